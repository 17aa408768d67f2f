package stream_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// wouldBlock, in a script, makes scriptReader answer ErrWouldBlock.
const wouldBlock = "\x00would block\x00"

// wrappedWouldBlock is how a connection might say it: an error of its own
// that matches stream.ErrWouldBlock.
type wrappedWouldBlock struct{}

func (wrappedWouldBlock) Error() string        { return "no bytes now" }
func (wrappedWouldBlock) Is(target error) bool { return target == stream.ErrWouldBlock }

// scriptReader answers each read with the next step of its script: bytes
// (as many as fit), or ErrWouldBlock for the wouldBlock step; io.EOF after
// the last step. A step that ends in wouldBlock returns its bytes and
// ErrWouldBlock together. Like a connection that only answers
// ErrWouldBlock while it is probed, it skips wouldBlock (the read waits
// for the next step) unless probe is set.
type scriptReader struct {
	steps []string
	probe bool
	reads int
}

func (s *scriptReader) Read(p []byte) (int, error) {
	s.reads++
	for len(s.steps) > 0 && s.steps[0] == wouldBlock {
		s.steps = s.steps[1:]
		if s.probe {
			return 0, wrappedWouldBlock{}
		}
	}
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	data, blocks := strings.CutSuffix(s.steps[0], wouldBlock)
	n := copy(p, data)
	if n < len(data) {
		s.steps[0] = s.steps[0][n:]
		return n, nil
	}
	s.steps = s.steps[1:]
	if blocks && s.probe {
		return n, wrappedWouldBlock{}
	}
	return n, nil
}

// fill calls d.Fill with r probed.
func (s *scriptReader) fill(d *stream.Decoder) error {
	s.probe = true
	defer func() { s.probe = false }()
	return d.Fill()
}

// idleLoop reads d the way a server that waits outside the Decoder does:
// elements while Buffered, then Release and Fill. It returns the names of
// the elements, "~" for each ErrWouldBlock (a wait), and the error that
// ended the stream.
func idleLoop(t *testing.T, r *scriptReader, d *stream.Decoder) ([]string, error) {
	t.Helper()
	var got []string
	for range 1000 {
		for d.Buffered() {
			el, err := d.Next()
			if err != nil {
				return got, err
			}
			got = append(got, el.Name.Local+":"+el.Name.Space)
		}
		d.Release()
		switch err := r.fill(d); {
		case errors.Is(err, stream.ErrWouldBlock):
			got = append(got, "~")
		case err != nil:
			// Next reports it, mapped.
			if !d.Buffered() {
				t.Fatalf("Buffered is false after Fill failed with %v", err)
			}
		}
	}
	t.Fatal("the stream never ended")
	return nil, nil
}

func TestIdleLoop(t *testing.T) {
	open := `<stream:stream to="localhost" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" xmlns:x="urn:x" version="1.0">`
	tests := []struct {
		name  string
		steps []string
		want  string
		err   error
	}{{
		name:  "elements, keepalives and waits",
		steps: []string{open, wouldBlock, "<presence/>", wouldBlock, " ", wouldBlock, "\n\n ", "<iq id='1'/>  ", wouldBlock, "</stream:stream>"},
		want:  "~ presence:jabber:client ~ ~ iq:jabber:client ~",
		err:   stream.ErrClosed,
	}, {
		name: "an element cut by waits (inside Next, a read waits), and three in one read",
		steps: []string{
			open, wouldBlock, "<mess", wouldBlock, "age><body>a", wouldBlock, "b</body></message><r xmlns='urn:xmpp:sm:3'/>",
			"<x:a/>" + wouldBlock, wouldBlock, "</stream:stream>",
		},
		want: "~ message:jabber:client r:urn:xmpp:sm:3 a:urn:x ~",
		err:  stream.ErrClosed,
	}, {
		name:  "bytes come with the wait",
		steps: []string{open, "<a/> " + wouldBlock, "<b/>" + wouldBlock, "</stream:stream>"},
		want:  "a:jabber:client b:jabber:client",
		err:   stream.ErrClosed,
	}, {
		name:  "the namespaces of the header hold after a release",
		steps: []string{open, wouldBlock, "<x:a/>", wouldBlock, "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"},
		want:  "~ a:urn:x ~ error:http://etherx.jabber.org/streams",
		err:   io.ErrUnexpectedEOF,
	}, {
		name:  "end of input while idle",
		steps: []string{open, wouldBlock, "<a/>", wouldBlock},
		want:  "~ a:jabber:client ~",
		err:   io.ErrUnexpectedEOF,
	}, {
		name:  "bad XML after a release",
		steps: []string{open, wouldBlock, "<a/>", wouldBlock, "<b></c>"},
		want:  "~ a:jabber:client ~",
		err:   stream.NotWellFormed,
	}, {
		name:  "a mismatched close after a release",
		steps: []string{open, wouldBlock, "</stream>"},
		want:  "~",
		err:   stream.NotWellFormed,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &scriptReader{steps: tt.steps}
			d := stream.NewDecoder(r, stream.Limits{})
			if _, err := d.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			got, err := idleLoop(t, r, d)
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("got  %s\nwant %s", s, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("stream ended with %v, want %v", err, tt.err)
			}
		})
	}
}

// TestWouldBlockOutsideFill: inside Next, a reader's ErrWouldBlock is a
// read error like any other, and ends the stream.
func TestWouldBlockOutsideFill(t *testing.T) {
	r := &scriptReader{steps: []string{header, "<iq>", wouldBlock, "</iq>"}, probe: true}
	d := stream.NewDecoder(r, stream.Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err := d.Next()
	if !errors.Is(err, stream.ErrWouldBlock) {
		t.Fatalf("Next: %v, want ErrWouldBlock", err)
	}
	if _, err2 := d.Next(); !errors.Is(err2, stream.ErrWouldBlock) {
		t.Errorf("Next again: %v, want the same error", err2)
	}
	if err := d.Fill(); !errors.Is(err, stream.ErrWouldBlock) {
		t.Errorf("Fill after the stream ended: %v, want the same error", err)
	}
}

// TestFillReadsOnce: Fill reads nothing while bytes are buffered, and once
// otherwise; Release drops nothing while bytes are buffered.
func TestFillReadsOnce(t *testing.T) {
	r := &scriptReader{steps: []string{header, "<a/><b/>", "<c/>", wouldBlock}}
	d := stream.NewDecoder(r, stream.Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	reads := r.reads
	if d.Buffered() {
		t.Fatal("Buffered after the header")
	}
	if err := d.Fill(); err != nil || r.reads != reads+1 {
		t.Fatalf("Fill: %v after %d reads, want nil after 1", err, r.reads-reads)
	}
	for _, want := range []string{"a", "b"} {
		if !d.Buffered() {
			t.Fatalf("not Buffered before <%s/>", want)
		}
		d.Release()
		if err := d.Fill(); err != nil || r.reads != reads+1 {
			t.Fatalf("Fill with bytes buffered: %v after %d reads, want nil and none", err, r.reads-reads-1)
		}
		if el, err := d.Next(); err != nil || el.Name.Local != want {
			t.Fatalf("Next: %v, %v; want <%s/>", el, err, want)
		}
	}
	if d.Buffered() {
		t.Fatal("Buffered with nothing left")
	}
}

// TestReleasedDecoderStillLimits: after a release, the next stanza is held
// to the same limits, counted from its own first byte.
func TestReleasedDecoderStillLimits(t *testing.T) {
	lim := stream.Limits{MaxStanza: 100, MaxDepth: 3}
	for _, tt := range []struct {
		stanza string
		err    error
	}{
		{`<message>` + strings.Repeat("a", 80) + `</message>`, nil},
		{`<message>` + strings.Repeat("a", 100) + `</message>`, stream.PolicyViolation},
		{`<a><b><c><d/></c></b></a>`, stream.PolicyViolation},
	} {
		r := &scriptReader{steps: []string{header, wouldBlock, strings.Repeat(" ", 200), wouldBlock, tt.stanza, wouldBlock}}
		d := stream.NewDecoder(r, lim)
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		got, err := idleLoop(t, r, d)
		if tt.err == nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 4 {
				t.Errorf("%.20s...: %v, %v; want one element, then the end", tt.stanza, got, err)
			}
			continue
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%.20s...: %v, want %v", tt.stanza, err, tt.err)
		}
	}
}

// TestReleasedDecoderRoundTrip: what is decoded through the idle loop is
// what the plain Next loop decodes, whatever the reads.
func TestReleasedDecoderRoundTrip(t *testing.T) {
	stanzas := []string{
		notifyIQ,
		`<message xmlns:q="urn:q" type="headline"><q:body q:a="1">x &amp; y</q:body><x xmlns="jabber:x:oob"><url>http://x/?a=1&amp;b=2</url></x></message>`,
		`<presence/>`,
		`<iq type="result" id="n1-abc"/>`,
	}
	all := strings.Join(stanzas, "\n")
	want, err := readAll(open(t, header+all+stream.CloseTag, stream.Limits{}))
	if !errors.Is(err, stream.ErrClosed) {
		t.Fatal(err)
	}
	for _, size := range []int{1, 2, 7, 64, 1000} {
		steps := []string{header}
		for i := 0; i < len(all); i += size {
			steps = append(steps, wouldBlock, all[i:min(i+size, len(all))])
		}
		steps = append(steps, wouldBlock, stream.CloseTag)
		r := &scriptReader{steps: steps}
		d := stream.NewDecoder(r, stream.Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		var got []*stanza.Element
		err = nil
		for err == nil || errors.Is(err, stream.ErrWouldBlock) {
			for d.Buffered() {
				var el *stanza.Element
				if el, err = d.Next(); err != nil {
					break
				}
				got = append(got, el)
			}
			if err == nil || errors.Is(err, stream.ErrWouldBlock) {
				d.Release()
				err = r.fill(d)
			}
		}
		if !errors.Is(err, stream.ErrClosed) && !errors.Is(err, io.EOF) {
			t.Errorf("reads of %d: ended with %v", size, err)
		}
		if len(got) != len(want) {
			t.Fatalf("reads of %d: %d elements, want %d", size, len(got), len(want))
		}
		for i := range want {
			if !equal(got[i], want[i]) {
				t.Errorf("reads of %d: element %d differs:\n got %s\nwant %s", size, i,
					got[i].AppendXML(nil, stanza.NSClient), want[i].AppendXML(nil, stanza.NSClient))
			}
		}
	}
}
