package xmpp

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/stanza"
)

// BenchmarkNotificationToEvent measures the client's path from a
// notification IQ on the wire to the Notified event on the channel,
// acknowledgement included: the fake server writes b.N IQs over net.Pipe
// as fast as the client reads them, the benchmark consumes b.N events.
// The server side writes from a reused buffer and discards what the
// client writes, so the allocations counted are the client's (and the
// consumer's, which does not allocate).
func BenchmarkNotificationToEvent(b *testing.B) {
	d := xmpptest.NewDialer(b)
	cfg := testConfig(b, d)
	cfg.Logger = nil
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		for range c.Events() {
		}
		<-done
	}()

	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	next := func() Event {
		select {
		case ev := <-c.Events():
			return ev
		case <-timeout.C:
			b.Fatal("no event in time")
		}
		return nil
	}

	// A legacy login: the shortest way online, without stream
	// management (its acknowledgements are not what is measured).
	next() // connecting
	srv := d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("bench", xmpptest.FeatureIQAuth)
	get := srv.ExpectIQ(stanza.TypeGet, NSIQAuth, "query")
	srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:auth"><username/><digest/><resource/></query></iq>`, get.AttrValue("id"))
	set := srv.ExpectIQ(stanza.TypeSet, NSIQAuth, "query")
	srv.Sendf(`<iq type="result" id="%s"/>`, set.AttrValue("id"))
	srv.ExpectPresence()
	if sc, ok := next().(*StateChange); !ok || sc.State != StateOnline || srv.Failed() {
		b.Fatal("not online")
	}
	srv.Discard()
	conn := srv.Conn()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	go func() {
		const chunk = 64
		_ = conn.SetWriteDeadline(time.Now().Add(time.Minute))
		buf := make([]byte, 0, chunk*256)
		for i := 0; i < b.N; {
			buf = buf[:0]
			for j := 0; j < chunk && i < b.N; j, i = j+1, i+1 {
				buf = append(buf, `<iq type="set" id="b`...)
				buf = strconv.AppendInt(buf, int64(i), 10)
				buf = append(buf, `" to="alice@example.org/desk"><notification xmlns="androidpn:iq:notification"><id>n`...)
				buf = strconv.AppendInt(buf, int64(i), 10)
				buf = append(buf, `</id><title>Build finished</title><message>Build passed, all tests green.</message>`+
					`<uri>https://ci.example.org/build/42</uri></notification></iq>`...)
			}
			if _, err := conn.Write(buf); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for range b.N {
		if _, ok := next().(*Notified); !ok {
			b.Fatal("not a notification")
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/notification")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/notification")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "B/notification")
}
