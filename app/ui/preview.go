package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	// The formats a preview decodes.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/webp"

	"github.com/xpush/xpush/app/opener"
)

// Preview limits beyond PreviewTimeout and PreviewMaxBytes.
const (
	// previewMaxPixels bounds the decoded size (a 5 MiB PNG can claim to
	// be gigapixels): 40 megapixels is a large photo.
	previewMaxPixels = 40_000_000
	// previewMaxRedirects bounds the redirects a fetch follows.
	previewMaxRedirects = 5
)

// Errors of fetchPreview.
var (
	errPreviewScheme   = errors.New("ui: preview: only http and https links are fetched")
	errPreviewNotImage = errors.New("ui: preview: not an image")
	errPreviewTooLarge = errors.New("ui: preview: the image is too large")
)

// imageExts are the extensions taken for images before asking the server.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true}

// looksLikeImage reports whether uri's path ends in an image extension.
func looksLikeImage(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	return imageExts[strings.ToLower(path.Ext(u.Path))]
}

// newPreviewClient returns the client of image previews: a timeout for
// the whole fetch, and redirects only to http(s), at most a few.
func newPreviewClient() *http.Client {
	return &http.Client{
		Timeout: PreviewTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= previewMaxRedirects {
				return errors.New("too many redirects")
			}
			if s := req.URL.Scheme; s != "http" && s != "https" {
				return errPreviewScheme
			}
			return nil
		},
	}
}

// fetchPreview downloads and decodes the image at uri, an http or https
// link that opener.Check accepts; any other link is refused before
// anything is sent. It reads at most PreviewMaxBytes of the body and
// refuses what is not an image (by Content-Type, or by the extension of a
// path served without one). It touches no widget.
func fetchPreview(ctx context.Context, client *http.Client, uri string) (image.Image, error) {
	if err := opener.Check(uri); err != nil {
		return nil, fmt.Errorf("%w: %v", errPreviewScheme, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("ui: preview: %w", err)
	}
	req.Header.Set("Accept", "image/*")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ui: preview: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ui: preview: %s", resp.Status)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case strings.HasPrefix(mt, "image/"):
	case (mt == "" || mt == "application/octet-stream") && looksLikeImage(uri):
	default:
		return nil, errPreviewNotImage
	}
	if resp.ContentLength > PreviewMaxBytes {
		return nil, errPreviewTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, PreviewMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ui: preview: %w", err)
	}
	if len(data) > PreviewMaxBytes {
		return nil, errPreviewTooLarge
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPreviewNotImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > previewMaxPixels {
		return nil, errPreviewTooLarge
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPreviewNotImage, err)
	}
	return img, nil
}
