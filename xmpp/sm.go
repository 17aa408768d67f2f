package xmpp

import (
	"fmt"
	"strconv"

	"github.com/xpush/xpush/xmpp/stanza"
)

// NSSM is the namespace of stream management (XEP-0198).
const NSSM = "urn:xmpp:sm:3"

// maxUnacked bounds the stanzas kept for resending; a server that lets
// more pile up without acking is not managing the stream.
const (
	ackRequestAt = 16
	maxUnacked   = 4096
)

// smState is the XEP-0198 state. It outlives a connection so that the
// next one can resume; only the goroutine running sessions touches it.
type smState struct {
	counting bool   // we sent <enable/> on this session: count what we send
	enabled  bool   // the server answered <enabled/>: count what we get
	id       string // resumption id, "" when not resumable
	full     string // full JID of the resumable session
	inH      uint32 // stanzas handled from the server
	outH     uint32 // our stanzas the server acknowledged
	unacked  []*stanza.Element
}

// enableSM asks the server for stream management with resumption.
func (s *session) enableSM() {
	sm := &s.c.sm
	*sm = smState{}
	if s.c.cfg.NoStreamManagement || s.feats.Child(NSSM, "sm") == nil {
		return
	}
	if err := s.t.send(stanza.New(NSSM, "enable", "resume", "true")); err != nil {
		return // the next write fails as well and ends the session
	}
	sm.counting = true
}

// resume tries to resume the previous session. It returns true on
// success; on failure the state is cleared and the caller binds anew.
func (s *session) resume() (bool, error) {
	sm := &s.c.sm
	if sm.id == "" || s.c.cfg.NoStreamManagement || s.feats.Child(NSSM, "sm") == nil {
		*sm = smState{}
		return false, nil
	}
	r := stanza.New(NSSM, "resume", "previd", sm.id, "h", strconv.FormatUint(uint64(sm.inH), 10))
	if err := s.t.send(r); err != nil {
		return false, err
	}
	for {
		el, err := s.t.next()
		if err != nil {
			return false, fmt.Errorf("xmpp: resume: %w", err)
		}
		switch {
		case el.Is(NSSM, "resumed"):
			h, err := parseH(el)
			if err != nil {
				return false, err
			}
			if err := s.ack(h); err != nil {
				return false, err
			}
			// Resend what the server did not get, in order.
			sm.counting, sm.enabled = true, true
			for _, st := range sm.unacked {
				if err := s.t.send(st); err != nil {
					return false, err
				}
			}
			s.full = sm.full
			return true, nil
		case el.Is(NSSM, "failed"):
			s.c.cfg.Logger.Info("xmpp: stream resumption refused; binding a new session")
			*sm = smState{}
			return false, nil
		}
	}
}

// handleSM processes a stream management element during the session.
func (s *session) handleSM(el *stanza.Element) error {
	sm := &s.c.sm
	switch el.Name.Local {
	case "enabled":
		sm.enabled = true
		sm.inH = 0
		if v := el.AttrValue("resume"); v == "true" || v == "1" {
			sm.id = el.AttrValue("id")
			sm.full = s.full
		}
	case "failed":
		*sm = smState{}
	case "r":
		return s.t.send(stanza.New(NSSM, "a", "h", strconv.FormatUint(uint64(sm.inH), 10)))
	case "a":
		h, err := parseH(el)
		if err != nil {
			return err
		}
		return s.ack(h)
	}
	return nil
}

// ack drops the stanzas the server acknowledged with h.
func (s *session) ack(h uint32) error {
	sm := &s.c.sm
	n := h - sm.outH // wraps correctly at 2^32 (XEP-0198 §5)
	if int(n) > len(sm.unacked) {
		return fmt.Errorf("xmpp: stream management: server acknowledged %d stanzas, %d were sent", n, len(sm.unacked))
	}
	clear(sm.unacked[:n])
	sm.unacked = sm.unacked[n:]
	sm.outH = h
	if len(sm.unacked) == 0 {
		sm.unacked = nil // let the old array go
	}
	return nil
}

// sendCounted writes a stanza, keeping it for resending until acked when
// stream management is on.
func (s *session) sendCounted(el *stanza.Element) error {
	if err := s.t.send(el); err != nil {
		return err
	}
	sm := &s.c.sm
	if !sm.counting {
		return nil
	}
	sm.unacked = append(sm.unacked, el)
	switch {
	case len(sm.unacked) > maxUnacked:
		return fmt.Errorf("xmpp: stream management: %d stanzas unacknowledged", len(sm.unacked))
	case len(sm.unacked)%ackRequestAt == 0:
		return s.t.send(stanza.New(NSSM, "r"))
	}
	return nil
}

// handled counts a stanza received from the server once it is dealt with.
func (s *session) handled() {
	if s.c.sm.enabled {
		s.c.sm.inH++
	}
}

func parseH(el *stanza.Element) (uint32, error) {
	h, err := strconv.ParseUint(el.AttrValue("h"), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("xmpp: stream management: bad h %q", el.AttrValue("h"))
	}
	return uint32(h), nil
}
