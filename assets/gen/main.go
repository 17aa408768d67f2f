// Command gen draws xpush's icons: the 256×256 app icon and the tray
// icons at 22×22 and 44×44 (@2x) for each state. Run it with
// `go generate ./assets` (or `go run ./assets/gen -out assets`); the PNGs
// it writes are committed and embedded by package assets.
//
// The glyph is a bell drawn from simple shapes (circles, a flared body, a
// rim) and rasterised with 8×8 supersampling, so every size is drawn, not
// scaled. -preview FILE also writes a contact sheet of all icons, enlarged
// and on a light and a dark panel, for looking at them.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", ".", "directory to write icon.png and tray/*.png to")
	preview := flag.String("preview", "", "also write a contact sheet of all icons to this PNG file")
	flag.Parse()
	if err := run(*out, *preview); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// Tray variants and the file names package assets expects.
var variants = []struct {
	name string
	draw func(size int) *image.RGBA
}{
	{"online", func(n int) *image.RGBA { return trayIcon(n, online, badgeNone) }},
	{"online-unread", func(n int) *image.RGBA { return trayIcon(n, online, badgeUnread) }},
	{"connecting", func(n int) *image.RGBA { return trayIcon(n, connecting, badgeNone) }},
	{"offline", func(n int) *image.RGBA { return trayIcon(n, offline, badgeNone) }},
	{"dnd", func(n int) *image.RGBA { return trayIcon(n, online, badgeMoon) }},
}

// Tray sizes: the common panel size and its @2x.
const (
	traySize   = 22
	traySize2x = 44
	iconSize   = 256
)

func run(out, preview string) error {
	if err := os.MkdirAll(filepath.Join(out, "tray"), 0o755); err != nil {
		return err
	}
	app := appIcon(iconSize)
	if err := writePNG(filepath.Join(out, "icon.png"), app); err != nil {
		return err
	}
	var sheet [][]*image.RGBA
	for _, v := range variants {
		small, large := v.draw(traySize), v.draw(traySize2x)
		if err := writePNG(filepath.Join(out, "tray", v.name+".png"), small); err != nil {
			return err
		}
		if err := writePNG(filepath.Join(out, "tray", v.name+"@2x.png"), large); err != nil {
			return err
		}
		sheet = append(sheet, []*image.RGBA{small, large})
	}
	if preview != "" {
		return writePNG(preview, contactSheet(app, sheet))
	}
	return nil
}

func writePNG(name string, img image.Image) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}

// Palette.
var (
	white      = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	blue       = color.NRGBA{0x25, 0x63, 0xeb, 0xff} // connected
	grey       = color.NRGBA{0x7b, 0x85, 0x94, 0xff} // connecting, offline
	red        = color.NRGBA{0xf0, 0x3e, 0x3e, 0xff} // unread dot
	amber      = color.NRGBA{0xfb, 0xbf, 0x24, 0xff} // moon
	appTop     = color.NRGBA{0x4f, 0x8d, 0xfb, 0xff}
	appBottom  = color.NRGBA{0x35, 0x3f, 0xd0, 0xff}
	panelLight = color.NRGBA{0xee, 0xee, 0xee, 0xff}
	panelDark  = color.NRGBA{0x24, 0x26, 0x2b, 0xff}
)

// A shape says whether a point of the unit square (y down) is inside it.
type shape func(x, y float64) bool

func union(s ...shape) shape {
	return func(x, y float64) bool {
		for _, f := range s {
			if f(x, y) {
				return true
			}
		}
		return false
	}
}

func minus(a, b shape) shape {
	return func(x, y float64) bool { return a(x, y) && !b(x, y) }
}

func circle(cx, cy, r float64) shape {
	return func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
}

func roundRect(x0, y0, x1, y1, r float64) shape {
	return func(x, y float64) bool {
		if x < x0 || x > x1 || y < y0 || y > y1 {
			return false
		}
		dx := math.Max(math.Max(x0+r-x, x-(x1-r)), 0)
		dy := math.Max(math.Max(y0+r-y, y-(y1-r)), 0)
		return dx*dx+dy*dy <= r*r
	}
}

// stroke is a straight line with round caps, w wide.
func stroke(x0, y0, x1, y1, w float64) shape {
	return func(x, y float64) bool {
		vx, vy := x1-x0, y1-y0
		t := ((x-x0)*vx + (y-y0)*vy) / (vx*vx + vy*vy)
		t = math.Max(0, math.Min(1, t))
		dx, dy := x-(x0+t*vx), y-(y0+t*vy)
		return dx*dx+dy*dy <= w*w/4
	}
}

// arc is a circular arc with round caps, w wide, from angle a0 to a1
// (radians, counter-clockwise from +x with y up).
func arc(cx, cy, r, a0, a1, w float64) shape {
	return func(x, y float64) bool {
		a := math.Atan2(cy-y, x-cx)
		for a < a0 {
			a += 2 * math.Pi
		}
		if a <= a1 {
			return math.Abs(math.Hypot(x-cx, y-cy)-r) <= w/2
		}
		return circle(cx+r*math.Cos(a0), cy-r*math.Sin(a0), w/2)(x, y) ||
			circle(cx+r*math.Cos(a1), cy-r*math.Sin(a1), w/2)(x, y)
	}
}

// transform maps the shape: scaled by s about (0.5, 0.5), rotated by a
// (radians, clockwise on screen) about the same point, then moved by
// (dx, dy).
func transform(f shape, s, a, dx, dy float64) shape {
	sin, cos := math.Sin(a), math.Cos(a)
	return func(x, y float64) bool {
		x, y = x-0.5-dx, y-0.5-dy
		x, y = x*cos+y*sin, -x*sin+y*cos
		return f(x/s+0.5, y/s+0.5)
	}
}

// bell is the glyph, centred in the unit square and about 0.6 tall.
// Its parts: a knob, a dome, a body that flares to the rim, the rim, and
// (with clapper) the clapper below it.
func bell(clapper bool) shape {
	const (
		cx      = 0.5
		domeY   = 0.45 // centre of the dome
		domeR   = 0.18
		rimTop  = 0.645
		flareW  = 0.255 // half-width where the body meets the rim
		rimBot  = 0.705
		rimW    = 0.295
		clapR   = 0.07
		clapY   = 0.735
		knobR   = 0.045
		knobY   = domeY - domeR - 0.015
		rimRnd  = 0.03
		clapGap = 0.025
	)
	body := func(x, y float64) bool {
		var w float64
		switch {
		case y < domeY-domeR || y > rimTop+0.01:
			return false
		case y < domeY:
			w = math.Sqrt(domeR*domeR - (y-domeY)*(y-domeY))
		default:
			t := (y - domeY) / (rimTop - domeY)
			w = domeR + (flareW-domeR)*t*t
		}
		return math.Abs(x-cx) <= w
	}
	clapperShape := func(x, y float64) bool {
		return y >= rimBot+clapGap && circle(cx, clapY+clapGap, clapR)(x, y)
	}
	parts := []shape{
		circle(cx, knobY, knobR),
		body,
		roundRect(cx-rimW, rimTop, cx+rimW, rimBot, rimRnd),
	}
	if clapper {
		parts = append(parts, clapperShape)
	}
	return union(parts...)
}

// Tray states and badges.
type trayState int

const (
	online trayState = iota
	connecting
	offline
)

type badge int

const (
	badgeNone badge = iota
	badgeUnread
	badgeMoon
)

// trayIcon draws a disc with the bell: blue when connected, grey when
// not. Connecting puts three dots under the bell, offline crosses it out,
// and a badge in the corner says "unread" (a red dot) or "do not disturb"
// (a moon). Badges are knocked out of the disc, so they stand apart on
// any panel colour.
func trayIcon(n int, st trayState, b badge) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	const discR = 0.48
	glyph := transform(bell(true), 1.08, 0, 0, 0)
	switch st {
	case online:
		fill(img, circle(0.5, 0.5, discR), blue)
		fill(img, glyph, white)
	case connecting:
		// The bell without its clapper, over three dots: "…".
		fill(img, circle(0.5, 0.5, discR), grey)
		fill(img, transform(bell(false), 0.96, 0, 0, -0.06), white)
		// Dots 2 px wide and 4 px apart at 22 px, on whole pixels.
		for i := -1; i <= 1; i++ {
			fill(img, circle(0.5+float64(i)*4/22, 17.0/22, 1.0/22), white)
		}
	case offline:
		fill(img, circle(0.5, 0.5, discR), grey)
		fill(img, glyph, white)
		// The slash, with a gap in the disc's colour around it.
		fill(img, stroke(0.25, 0.25, 0.75, 0.75, 0.2), grey)
		fill(img, stroke(0.25, 0.25, 0.75, 0.75, 0.085), white)
	}
	switch b {
	case badgeUnread:
		cx, cy, r := 0.79, 0.21, 0.18
		erase(img, circle(cx, cy, r+0.075))
		fill(img, circle(cx, cy, r), red)
	case badgeMoon:
		cx, cy, r := 0.77, 0.77, 0.2
		erase(img, circle(cx, cy, r+0.08))
		fill(img, minus(circle(cx, cy, r), circle(cx+0.1, cy-0.085, r*0.82)), amber)
	}
	return img
}

// appIcon draws the application icon: a rounded square in a blue
// gradient with a white bell, tilted as it rings, between two pairs of
// sound waves.
func appIcon(n int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	const m = 0.03
	square := roundRect(m, m, 1-m, 1-m, 0.22)
	mask := coverage(n, square)
	draw.DrawMask(img, img.Bounds(), gradient{n, appTop, appBottom}, image.Point{}, mask, image.Point{}, draw.Over)

	// A soft shadow under the bell, then the bell, between the waves.
	glyph := transform(bell(true), 1.02, 0, 0, 0.01)
	fill(img, transform(glyph, 1, 0, 0, 0.02), color.NRGBA{0x10, 0x18, 0x60, 0x38})
	fill(img, glyph, white)
	const w, cy = 0.042, 0.5
	waves := union(
		arc(0.5, cy, 0.335, -0.42, 0.42, w),
		arc(0.5, cy, 0.415, -0.36, 0.36, w),
		arc(0.5, cy, 0.335, math.Pi-0.42, math.Pi+0.42, w),
		arc(0.5, cy, 0.415, math.Pi-0.36, math.Pi+0.36, w),
	)
	fill(img, waves, color.NRGBA{0xff, 0xff, 0xff, 0xc0})
	return img
}

// gradient is a vertical two-colour gradient n pixels high.
type gradient struct {
	n        int
	top, bot color.NRGBA
}

func (g gradient) ColorModel() color.Model { return color.NRGBAModel }
func (g gradient) Bounds() image.Rectangle {
	return image.Rect(-1e9, -1e9, 1e9, 1e9)
}

func (g gradient) At(_, y int) color.Color {
	t := math.Max(0, math.Min(1, (float64(y)+0.5)/float64(g.n)))
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a)*(1-t) + float64(b)*t)) }
	return color.NRGBA{mix(g.top.R, g.bot.R), mix(g.top.G, g.bot.G), mix(g.top.B, g.bot.B), 0xff}
}

// samples is the supersampling grid per pixel side.
const samples = 8

// coverage rasterises s at n×n pixels, anti-aliased.
func coverage(n int, s shape) *image.Alpha {
	mask := image.NewAlpha(image.Rect(0, 0, n, n))
	for py := range n {
		for px := range n {
			hit := 0
			for sy := range samples {
				for sx := range samples {
					x := (float64(px) + (float64(sx)+0.5)/samples) / float64(n)
					y := (float64(py) + (float64(sy)+0.5)/samples) / float64(n)
					if s(x, y) {
						hit++
					}
				}
			}
			mask.Pix[mask.PixOffset(px, py)] = uint8((hit*255 + samples*samples/2) / (samples * samples))
		}
	}
	return mask
}

func fill(img *image.RGBA, s shape, c color.Color) {
	draw.DrawMask(img, img.Bounds(), image.NewUniform(c), image.Point{}, coverage(img.Bounds().Dx(), s), image.Point{}, draw.Over)
}

// erase makes the shape transparent: a knock-out that separates a badge
// from the disc under it, whatever the panel's colour.
func erase(img *image.RGBA, s shape) {
	mask := coverage(img.Bounds().Dx(), s)
	for i, a := range mask.Pix {
		keep := 255 - uint32(a)
		for c := range 4 {
			p := &img.Pix[4*i+c]
			*p = uint8((uint32(*p)*keep + 127) / 255)
		}
	}
}

// contactSheet lays out the app icon and every tray icon at 1× and
// enlarged 4× (nearest neighbour, to see the pixels) on a light and on a
// dark panel.
func contactSheet(app *image.RGBA, tray [][]*image.RGBA) *image.RGBA {
	const zoom, pad = 4, 12
	col := pad + traySize + pad + traySize2x + pad + traySize*zoom + pad + traySize2x*zoom/2 + pad
	rows := len(tray)*(traySize*zoom+pad) + pad
	w := iconSize + pad*2 + col*2
	h := max(rows, iconSize+2*pad)
	sheet := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.NRGBA{0xcc, 0xcc, 0xcc, 0xff}), image.Point{}, draw.Src)
	draw.Draw(sheet, image.Rect(pad, pad, pad+iconSize, pad+iconSize), app, image.Point{}, draw.Over)
	for p, panel := range []color.NRGBA{panelLight, panelDark} {
		x0 := iconSize + 2*pad + p*col
		draw.Draw(sheet, image.Rect(x0, 0, x0+col, h), image.NewUniform(panel), image.Point{}, draw.Src)
		for i, icons := range tray {
			y := pad + i*(traySize*zoom+pad)
			x := x0 + pad
			blit(sheet, icons[0], x, y, 1)
			x += traySize + pad
			blit(sheet, icons[1], x, y, 1)
			x += traySize2x + pad
			blit(sheet, icons[0], x, y, zoom)
			x += traySize*zoom + pad
			blit(sheet, icons[1], x, y, zoom/2)
		}
	}
	return sheet
}

func blit(dst *image.RGBA, src *image.RGBA, x, y, zoom int) {
	n := src.Bounds().Dx()
	big := image.NewRGBA(image.Rect(0, 0, n*zoom, n*zoom))
	for py := range n * zoom {
		for px := range n * zoom {
			big.Set(px, py, src.At(px/zoom, py/zoom))
		}
	}
	draw.Draw(dst, image.Rect(x, y, x+n*zoom, y+n*zoom), big, image.Point{}, draw.Over)
}
