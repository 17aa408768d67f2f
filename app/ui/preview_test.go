package ui

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/xpush/xpush/app/history"
)

// pngBytes encodes a w×h picture.
func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, 0, color.NRGBA{R: 255, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngBomb is a small PNG whose header claims a huge picture.
func pngBomb(t testing.TB) []byte {
	b := pngBytes(t, 1, 1)
	// The IHDR chunk starts at 8: length, type, width, height, ..., CRC.
	binary.BigEndian.PutUint32(b[16:], 100_000)
	binary.BigEndian.PutUint32(b[20:], 100_000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// imageServer serves pictures and other things, counting requests.
type imageServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newImageServer(t *testing.T) *imageServer {
	t.Helper()
	small := pngBytes(t, 64, 48)
	big := bytes.Repeat([]byte{0}, PreviewMaxBytes+1)
	bomb := pngBomb(t)
	s := &imageServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/cat.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(small)
	})
	mux.HandleFunc("/typed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(small)
	})
	mux.HandleFunc("/untyped.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no sniffing
		w.Write(small)
	})
	mux.HandleFunc("/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html></html>"))
	})
	mux.HandleFunc("/html.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html></html>"))
	})
	mux.HandleFunc("/big.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(big) // with a Content-Length
	})
	mux.HandleFunc("/streamed.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(small[:8])
		w.(http.Flusher).Flush() // chunked: no Content-Length
		for range 6 {
			if _, err := w.Write(big[:1<<20]); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/bomb.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(bomb)
	})
	mux.HandleFunc("/garbage.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("not a picture"))
	})
	mux.HandleFunc("/slow.png", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/to-file.png", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/missing.png", http.NotFound)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFetchPreview(t *testing.T) {
	s := newImageServer(t)
	client := newPreviewClient()
	for _, c := range []struct {
		path string
		err  error // nil: a 64×48 picture
	}{
		{"/cat.png", nil},
		{"/typed", nil},       // by Content-Type
		{"/untyped.png", nil}, // by extension, no Content-Type
		{"/page.html", errPreviewNotImage},
		{"/html.png", errPreviewNotImage}, // the server's word wins
		{"/garbage.png", errPreviewNotImage},
		{"/big.png", errPreviewTooLarge},
		{"/streamed.png", errPreviewTooLarge},
		{"/bomb.png", errPreviewTooLarge},
		{"/to-file.png", errPreviewScheme},
		{"/missing.png", errors.New("404")},
	} {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			img, err := fetchPreview(context.Background(), client, s.URL+c.path)
			switch {
			case c.err == nil && err != nil:
				t.Fatalf("err = %v", err)
			case c.err == nil:
				if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
					t.Errorf("size %v", b)
				}
			case err == nil:
				t.Fatalf("err = nil, want %v", c.err)
			case !errors.Is(err, c.err) && !strings.Contains(err.Error(), c.err.Error()):
				t.Errorf("err = %v, want %v", err, c.err)
			}
		})
	}
}

func TestFetchPreviewRefusesOtherSchemes(t *testing.T) {
	s := newImageServer(t)
	host := strings.TrimPrefix(s.URL, "http://")
	for _, uri := range []string{
		"file:///etc/passwd.png",
		"ftp://" + host + "/cat.png",
		"gopher://" + host + "/cat.png",
		"javascript:fetch('" + s.URL + "/cat.png')",
		"data:image/png;base64,iVBORw0KGgo=",
		"//" + host + "/cat.png",
	} {
		if _, err := fetchPreview(context.Background(), newPreviewClient(), uri); !errors.Is(err, errPreviewScheme) {
			t.Errorf("fetchPreview(%q) = %v, want errPreviewScheme", uri, err)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestFetchPreviewTimeout(t *testing.T) {
	s := newImageServer(t)
	client := newPreviewClient()
	if client.Timeout != PreviewTimeout || PreviewTimeout != 5*time.Second {
		t.Errorf("timeout %v", client.Timeout)
	}
	client.Timeout = 100 * time.Millisecond // the same mechanism, faster
	start := time.Now()
	if _, err := fetchPreview(context.Background(), client, s.URL+"/slow.png"); err == nil {
		t.Fatal("no error from a server that never answers")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

func TestHistoryPreview(t *testing.T) {
	s := newImageServer(t)
	a := test.NewTempApp(t)
	hist := newStore(t)
	for i, p := range []string{"/cat.png", "/big.png", "/page.html"} {
		hist.Add(context.Background(), history.Entry{
			Key: "k" + p, Title: p, URI: s.URL + p,
			Received: t0.Add(time.Duration(-i) * time.Minute),
		})
	}
	hist.Add(context.Background(), history.Entry{
		Key: "k/file", Title: "file", URI: "file://" + strings.TrimPrefix(s.URL, "http://") + "/cat.png",
		Received: t0.Add(-time.Hour),
	})
	e, l := newTestEnv(t, &fakeAgent{}, hist)
	e.preview = newPreviewClient()
	ht := startHistory(t, a, e, l, "")
	h := ht.h

	ht.selectKey("k/cat.png")
	if !h.previewNote.Visible() {
		t.Error("no note while loading a picture")
	}
	l.until(t, "the preview", func() bool { return h.preview.Visible() && h.preview.Image != nil })
	if b := h.preview.Image.Bounds(); b.Dx() != 64 {
		t.Errorf("preview %v", b)
	}
	if h.previewNote.Visible() {
		t.Errorf("note %q shown with the picture", h.previewNote.Text)
	}
	if ms := h.preview.MinSize(); ms.Width != 64 || ms.Height != 48 {
		t.Errorf("preview min size %v", ms)
	}

	ht.selectKey("k/big.png")
	if h.preview.Visible() {
		t.Error("the previous preview is still shown")
	}
	l.until(t, "the too-large note", func() bool { return strings.Contains(h.previewNote.Text, "too large") })
	if h.preview.Visible() {
		t.Error("a preview of an oversized picture")
	}

	ht.selectKey("k/page.html")
	l.until(t, "the page fetch", func() bool { return s.hits.Load() == 3 })
	l.settle(50 * time.Millisecond)
	if h.preview.Visible() || h.previewNote.Visible() {
		t.Error("a preview or a note for a web page")
	}

	ht.selectKey("k/file")
	l.settle(100 * time.Millisecond)
	if n := s.hits.Load(); n != 3 {
		t.Errorf("%d requests: a file: link was fetched", n)
	}
	if h.preview.Visible() || h.previewNote.Visible() {
		t.Error("a preview or a note for a file: link")
	}
}

func TestLooksLikeImage(t *testing.T) {
	for uri, want := range map[string]bool{
		"https://x.org/a.PNG":         true,
		"https://x.org/a.jpeg?size=2": true,
		"https://x.org/a.webp#frag":   true,
		"https://x.org/a.gif":         true,
		"https://x.org/a.jpg":         true,
		"https://x.org/a.svg":         false,
		"https://x.org/png":           false,
		"https://x.org/?f=a.png":      false,
	} {
		if got := looksLikeImage(uri); got != want {
			t.Errorf("looksLikeImage(%q) = %v", uri, got)
		}
	}
}
