// Package ipc is the local socket between the processes of one user's
// xpush: the tray agent serves [control.Agent] on it, and the windows
// process and a second start of xpush talk to the agent through it.
//
// # Entry points
//
// The agent calls [Listen] with [DefaultPath], then [Server.Serve] with its
// control.Agent until its context ends. Listen is also the single-instance
// check: when an agent already answers at the path it returns [ErrRunning],
// and the second xpush then asks the running one to show itself with
// Dial(path).Show(ctx, control.WindowHistory) and exits. The other
// processes call [Dial], which returns a [Client] that implements
// control.Agent; Dial does no I/O.
//
// # Where and who
//
// The socket is a Unix domain socket (AF_UNIX, which Windows 10 1803 and
// later support too) in an xpush folder that only its user may enter:
//
//	Linux, BSDs   $XDG_RUNTIME_DIR/xpush/agent.sock, else the user cache dir
//	macOS         ~/Library/Caches/xpush/agent.sock
//	Windows       %LOCALAPPDATA%\xpush\agent.sock
//
// On Unix the folder is made 0700 (and refused when another user owns it)
// and the socket 0600; on Windows the per-user ACL of %LOCALAPPDATA% does
// that job. On Linux both ends also check the other's user id
// (SO_PEERCRED): the server drops a connection from another user, and the
// client refuses to send a password to a socket that another user serves.
//
// Next to the socket, agent.sock.lock is held locked (flock, LockFileEx)
// for as long as the server lives. The operating system releases it when
// the agent dies, so a socket file left by a crash is told apart from a
// live agent without guessing, and two agents that start at once cannot
// both listen. The lock file itself is never removed.
//
// # Protocol
//
// JSON lines: a client writes one request object and a newline, the server
// answers with one response object and a newline. Every request has an
// "op"; a failed request is answered with an "error" string:
//
//	{"op":"ping"}                                        {}
//	{"op":"status"}                                      {"status":{...}}
//	{"op":"set_dnd","until":"2026-01-02T15:04:05Z"}      {}
//	{"op":"account"}                                     {"account":{...}}
//	{"op":"save_account","account":{...},"password":"...","create":true}
//	                                                     {}
//	{"op":"settings"}                                    {"settings":{...}}
//	{"op":"save_settings","settings":{...}}              {}
//	{"op":"open","key":"iq:42"}                          {}
//	{"op":"show","window":"history"}                     {}
//	anything that fails                                  {"error":"..."}
//
// The server answers requests on a connection in order until the client
// closes it; the Client here dials once per call. A request or response
// line may be at most [MaxMessageSize] bytes: an oversized request is
// answered with an error and its connection closed; a malformed one is
// answered with an error and the connection stays usable. Unknown fields
// are ignored, so an older agent and a newer client still understand each
// other's common ops. Requests carry the account password in clear over
// the socket; neither end logs a request.
//
// # Limits
//
// Every read has a deadline: the server closes a connection that sends no
// request for [ReadTimeout]; each client call ends after its timeout
// ([CallTimeout], [SaveAccountTimeout] for save_account) or its context,
// whichever is first, and the server gives the agent's method the same
// time. The server handles at most [MaxConns] connections at once; a
// connection beyond that waits up to a second for a slot and is then
// answered with an error.
package ipc
