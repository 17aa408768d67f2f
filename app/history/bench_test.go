package history

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkAdd measures durable adds: each one a committed, fsynced
// transaction, as the agent does before each toast.
func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b, nil, Options{})
	n := 0
	start := time.Now()
	for b.Loop() {
		e := entry(fmt.Sprintf("iq:%d", n), time.Now())
		e.Message = strings.Repeat("a notification message ", 8)
		if _, err := s.Add(ctx, e); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "adds/s")
}

// BenchmarkAddFull measures adds to a history at its MaxEntries, each
// of which prunes the oldest entry.
func BenchmarkAddFull(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b, nil, Options{MaxEntries: 1000})
	fill(b, s, 1000, time.Now().Add(-time.Hour))
	n := 0
	start := time.Now()
	for b.Loop() {
		if _, err := s.Add(ctx, entry(fmt.Sprintf("iq:new%d", n), time.Now())); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "adds/s")
}

// BenchmarkAddDuplicate measures a redelivered notification: no write.
func BenchmarkAddDuplicate(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b, nil, Options{})
	e := entry("iq:dup", time.Now())
	mustAdd(b, s, e)
	for b.Loop() {
		if added, err := s.Add(ctx, e); err != nil || added {
			b.Fatal(added, err)
		}
	}
}

// fill inserts n entries received before t in one transaction.
func fill(b *testing.B, s *Store, n int, t time.Time) {
	b.Helper()
	err := s.write(context.Background(), "fill", func(tx *sql.Tx) error {
		for i := range n {
			e := entry(fmt.Sprintf("iq:fill%d", i), t.Add(-time.Duration(n-i)*time.Second))
			e.Message = fmt.Sprintf("message number %d about deploys and builds", i)
			if _, err := tx.Exec(`INSERT INTO entries (`+columns+`, search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				e.Key, e.ID, e.Title, e.Message, e.URI, e.URIUnsafe, e.From, e.Kind,
				e.Received.UnixNano(), i%3 == 0, searchText(&e)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkList measures the history window's queries on a full history.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b, nil, Options{})
	fill(b, s, DefaultMaxEntries, time.Now())
	for _, q := range []Query{
		{Limit: 100},
		{Limit: 100, UnreadOnly: true},
		{Limit: 100, Search: "number 99"},
		{Search: "nothing matches"},
	} {
		b.Run(fmt.Sprintf("%+v", q), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.List(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVersion measures the window's once-a-second poll.
func BenchmarkVersion(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b, nil, Options{})
	fill(b, s, 1000, time.Now())
	for b.Loop() {
		if _, err := s.Version(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
