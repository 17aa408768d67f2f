package toast

import "container/list"

// maxTracked bounds how many posted notifications the D-Bus backend
// remembers. A notification is forgotten when the server reports it closed;
// servers that never do (or a user who never looks) cannot grow the map past
// this: the oldest entry goes first.
const maxTracked = 1000

// tracker maps the server's notification ids to our toast keys, oldest
// first, with at most max entries. It is not safe for concurrent use.
type tracker struct {
	max   int
	byID  map[uint32]*list.Element
	order *list.List // of *entry, oldest at the front
}

type entry struct {
	id  uint32
	key string
}

func newTracker(max int) *tracker {
	return &tracker{max: max, byID: make(map[uint32]*list.Element), order: list.New()}
}

// add remembers that id shows key. An id the server hands out again (after
// a restart it counts from 1) replaces the old entry.
func (t *tracker) add(id uint32, key string) {
	if el, ok := t.byID[id]; ok {
		t.order.Remove(el)
	}
	t.byID[id] = t.order.PushBack(&entry{id: id, key: key})
	for t.order.Len() > t.max {
		old := t.order.Remove(t.order.Front()).(*entry)
		delete(t.byID, old.id)
	}
}

// key returns the key shown by id.
func (t *tracker) key(id uint32) (string, bool) {
	el, ok := t.byID[id]
	if !ok {
		return "", false
	}
	return el.Value.(*entry).key, true
}

// remove forgets id.
func (t *tracker) remove(id uint32) {
	if el, ok := t.byID[id]; ok {
		t.order.Remove(el)
		delete(t.byID, id)
	}
}

// reset forgets everything, for a new connection whose server may reuse ids.
func (t *tracker) reset() {
	clear(t.byID)
	t.order.Init()
}

func (t *tracker) len() int { return t.order.Len() }
