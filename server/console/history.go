package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xpush/xpush/server/store"
)

// count is one state's count, for the badges.
type count struct {
	State string
	N     int
}

func counts(m map[string]int) []count {
	out := make([]count, 0, len(store.States))
	for _, s := range store.States {
		out = append(out, count{State: s, N: m[s]})
	}
	return out
}

type historyRow struct {
	ID      string
	Title   string
	Message string
	URI     string
	To      string // "everyone" or a short list of users
	Created time.Time
	Counts  []count
}

type historyData struct {
	Query string
	Page  int
	Rows  []historyRow
	Prev  string // link to newer entries; "" on the first page
	Next  string // link to older entries; "" on the last page
}

// maxToShown is how many recipients a history row names.
const maxToShown = 3

func recipientsText(n store.Notification) string {
	if n.Broadcast {
		return "everyone"
	}
	if len(n.To) <= maxToShown {
		return strings.Join(n.To, ", ")
	}
	return strings.Join(n.To[:maxToShown], ", ") + " and " + strconv.Itoa(len(n.To)-maxToShown) + " more"
}

func (c *Console) history(w http.ResponseWriter, r *http.Request) error {
	q, err := searchQuery(r)
	if err != nil {
		return err
	}
	pg, err := pageNumber(r)
	if err != nil {
		return err
	}
	sums, err := c.opts.Store.History(r.Context(), store.Page{Query: q, Offset: (pg - 1) * pageSize, Limit: pageSize + 1})
	if err != nil {
		return err
	}
	d := historyData{Query: q, Page: pg}
	if len(sums) > pageSize {
		sums = sums[:pageSize]
		d.Next = pageLink("/notifications", q, pg+1)
	}
	if pg > 1 {
		d.Prev = pageLink("/notifications", q, pg-1)
	}
	for _, s := range sums {
		d.Rows = append(d.Rows, historyRow{
			ID: s.ID, Title: s.Title, Message: s.Message, URI: s.URI,
			To: recipientsText(s.Notification), Created: s.Created, Counts: counts(s.Counts),
		})
	}
	return c.render(w, r, http.StatusOK, "history", page{Title: "History", Data: d})
}

type recipientRow struct {
	User    string `json:"user"`
	State   string `json:"state"`
	Updated string `json:"updated"`
}

// status is a notification's delivery states, for the detail page and
// its JSON twin that the page polls.
type status struct {
	Notification store.Notification `json:"-"`
	Counts       []count            `json:"-"`
	CountMap     map[string]int     `json:"counts"`
	Recipients   []recipientRow     `json:"recipients"`
	Total        int                `json:"total"`
	// Final is true when no delivery can change any more (all acked or
	// expired): the page stops polling.
	Final bool   `json:"final"`
	Poll  string `json:"-"`
}

func (c *Console) status(r *http.Request) (status, error) {
	id := r.PathValue("id")
	n, ds, err := c.opts.Sender.Status(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return status{}, errorf(http.StatusNotFound, "There is no notification with this id.")
	}
	if err != nil {
		return status{}, err
	}
	st := status{
		Notification: n, CountMap: make(map[string]int, len(store.States)), Total: len(ds), Final: true,
		Poll: "/console/api/notifications/" + url.PathEscape(n.ID),
	}
	for _, s := range store.States {
		st.CountMap[s] = 0
	}
	for i, d := range ds {
		st.CountMap[d.State]++
		if d.State == store.StateQueued || d.State == store.StateSent {
			st.Final = false
		}
		if i < maxRecipientsShown {
			st.Recipients = append(st.Recipients, recipientRow{User: d.User, State: d.State, Updated: fmtTime(d.Updated)})
		}
	}
	st.Counts = counts(st.CountMap)
	return st, nil
}

func (c *Console) notification(w http.ResponseWriter, r *http.Request) error {
	st, err := c.status(r)
	if err != nil {
		return err
	}
	title := st.Notification.Title
	if title == "" {
		title = "Notification"
	}
	return c.render(w, r, http.StatusOK, "notification", page{Title: title, Nav: "history", Flash: flash(r), Data: st})
}

func (c *Console) notificationJSON(w http.ResponseWriter, r *http.Request) error {
	st, err := c.status(r)
	if err != nil {
		return err
	}
	if st.Recipients == nil {
		st.Recipients = []recipientRow{}
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
