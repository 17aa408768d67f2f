// Package account validates account names and turns passwords into the
// salted SCRAM keys that xpushd stores (RFC 5802, RFC 7677), and checks a
// password against them. A password is never stored or logged; only the
// operator's explicit opt-in to the paper's digest login keeps it
// (see store.User.Legacy).
package account
