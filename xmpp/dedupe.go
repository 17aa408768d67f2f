package xmpp

import "container/list"

// dedupe remembers the last n keys, oldest forgotten first.
type dedupe struct {
	max   int
	order *list.List
	keys  map[string]*list.Element
}

func newDedupe(n int) *dedupe {
	return &dedupe{max: n, order: list.New(), keys: make(map[string]*list.Element, n)}
}

// add records key and reports whether it was new.
func (d *dedupe) add(key string) bool {
	if _, ok := d.keys[key]; ok {
		return false
	}
	d.keys[key] = d.order.PushBack(key)
	if d.order.Len() > d.max {
		old := d.order.Remove(d.order.Front()).(string)
		delete(d.keys, old)
	}
	return true
}
