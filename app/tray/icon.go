package tray

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/png"

	"github.com/xpush/xpush/assets"
)

// iconBytes returns the icon in the form the platform's tray takes:
//   - Windows loads the icon with LoadImage(IMAGE_ICON), which wants an ICO:
//     both sizes, wrapped in one.
//   - Linux and BSD (a StatusNotifierItem pixmap, decoded from PNG) and
//     macOS (an NSImage drawn at 16×16 points) scale what they get: the
//     @2x PNG stays sharp on HiDPI panels and halves cleanly on others.
func iconBytes(goos string, c Icon) ([]byte, error) {
	large := assets.Tray2x(c.State, c.DND, c.Unread)
	if goos != "windows" {
		return large, nil
	}
	return ico(assets.Tray(c.State, c.DND, c.Unread), large)
}

// ico wraps PNG images in an ICO container with PNG-compressed entries,
// which Windows reads since Vista.
func ico(pngs ...[]byte) ([]byte, error) {
	if len(pngs) == 0 {
		return nil, errors.New("tray: ico: no images")
	}
	const headerLen, entryLen = 6, 16
	var head, body bytes.Buffer
	le := binary.LittleEndian
	head.Write(le.AppendUint16(nil, 0)) // reserved
	head.Write(le.AppendUint16(nil, 1)) // type: icon
	head.Write(le.AppendUint16(nil, uint16(len(pngs))))
	offset := headerLen + entryLen*len(pngs)
	for i, p := range pngs {
		cfg, err := png.DecodeConfig(bytes.NewReader(p))
		if err != nil {
			return nil, fmt.Errorf("tray: ico: image %d: %w", i, err)
		}
		if cfg.Width > 256 || cfg.Height > 256 {
			return nil, fmt.Errorf("tray: ico: image %d is %d×%d, larger than 256×256", i, cfg.Width, cfg.Height)
		}
		head.WriteByte(byte(cfg.Width))      // 256 is written as 0
		head.WriteByte(byte(cfg.Height))     // likewise
		head.WriteByte(0)                    // no palette
		head.WriteByte(0)                    // reserved
		head.Write(le.AppendUint16(nil, 1))  // colour planes
		head.Write(le.AppendUint16(nil, 32)) // bits per pixel
		head.Write(le.AppendUint32(nil, uint32(len(p))))
		head.Write(le.AppendUint32(nil, uint32(offset+body.Len())))
		body.Write(p)
	}
	return append(head.Bytes(), body.Bytes()...), nil
}
