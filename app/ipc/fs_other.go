//go:build !unix

package ipc

import "os"

// prepareDir makes dir and its missing parents. On Windows the ACL that
// %LOCALAPPDATA% passes on keeps other users out.
func prepareDir(dir string) error { return os.MkdirAll(dir, 0o700) }

// restrictSocket does nothing: Unix modes do not apply.
func restrictSocket(string) error { return nil }
