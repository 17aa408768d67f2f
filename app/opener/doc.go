// Package opener opens a notification's link in the user's default browser.
//
// [Open] is the only entry point that starts a process, and it opens http
// and https URIs alone: anything else is refused with [ErrScheme], so that a
// caller can show the link and ask before doing anything with it. [Check]
// runs the same test without opening anything.
//
// A URI is passed to the platform's opener as exactly one argument, never
// through a shell, and only if it is made of the characters RFC 3986 allows
// (no spaces, quotes, control characters or non-ASCII), carries no
// credentials and starts with its scheme, so it can never be read as an
// option or split into several arguments.
//
//	platform         command                                    notes
//	Linux, BSDs      $BROWSER if set, else xdg-open URI         $BROWSER is a colon-separated
//	                                                            list as in xdg-utils; the first
//	                                                            entry found on PATH is used, %s
//	                                                            is replaced by the URI, else the
//	                                                            URI is appended
//	macOS            /usr/bin/open URI
//	Windows          %SystemRoot%\System32\rundll32.exe         no cmd.exe, so & ^ | % in a
//	                 url.dll,FileProtocolHandler URI            URI mean nothing special
//	other            not supported (ErrUnsupported)
//
// Open does not wait for the browser: it returns when the helper exits (its
// exit status is the result) or after a short settling time, whichever is
// first, and a goroutine of its own keeps waiting for the helper so that it
// is reaped whenever it ends. The helper is never killed, because on some
// desktops it is the browser itself.
package opener
