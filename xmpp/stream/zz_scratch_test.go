package stream

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

const hdr = `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`

func TestScratch(t *testing.T) {
	d := NewDecoder(strings.NewReader(`<?xml version='1.0' encoding='ISO-8859-1'?>`+hdr), Limits{})
	_, err := d.ReadHeader()
	fmt.Printf("enc: %v %T stream=%v\n", err, err, errors.Is(err, Error{}))
	d = NewDecoder(strings.NewReader(`<?xml version='1.1'?>`+hdr), Limits{})
	_, err = d.ReadHeader()
	fmt.Printf("ver: %v %T stream=%v\n", err, err, errors.Is(err, Error{}))
	d = NewDecoder(strings.NewReader(hdr+`<message to="a" to="b"/>`), Limits{})
	d.ReadHeader()
	e, err := d.Next()
	fmt.Printf("dup: %v %v\n", e, err)
	d = NewDecoder(strings.NewReader(hdr+strings.Repeat(" ", 300<<10)+`<message/>`), Limits{})
	d.ReadHeader()
	e, err = d.Next()
	fmt.Printf("ws: %v %v\n", e, err)
	// amplification
	big := hdr + "<message>" + strings.Repeat("<b/>", (250<<10)/4) + "</message>"
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	d = NewDecoder(strings.NewReader(big), Limits{})
	d.ReadHeader()
	e, err = d.Next()
	runtime.ReadMemStats(&m1)
	fmt.Printf("amp: err=%v children=%d totalalloc=%d heapinuse=%d\n", err, len(e.Children), m1.TotalAlloc-m0.TotalAlloc, m1.HeapAlloc-m0.HeapAlloc)
	runtime.KeepAlive(e)
}
