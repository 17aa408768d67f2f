// Command xpushd is the xpush push server and its administration tool.
//
// xpushd serve runs the server: XMPP client connections (the paper's
// connect, register, login and push), the store-and-forward queue in
// SQLite (DATA/xpushd.db), the HTTP API, the web console, /metrics and
// /healthz. The other commands work on the same data directory, also while
// the server runs: API tokens, registration invites, accounts, the console
// admin password; xpushd send is a client of the HTTP API.
//
// main.go holds the command table and run, the one entry point that main
// and the tests call; serve.go is the server's composition root (config →
// logger → store → TLS → listeners → server → Run); config.go layers the
// environment and the TOML file under the flags by walking the FlagSet.
// Exit codes: 0 success, 1 a runtime failure (one sentence on stderr), 2
// a bad command line or configuration (with the usage).
package main
