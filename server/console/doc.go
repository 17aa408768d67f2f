// Package console is xpushd's web console, the paper's "notification
// sending interface": an admin logs in with the password set by
// `xpushd admin passwd`, sends notifications to some users or everyone,
// follows each recipient's delivery state, and manages users, API tokens
// and registration invites.
//
// [New] returns a [Console], an http.Handler to mount at "/". Pages are
// html/template files and a stylesheet embedded in the binary, rendered
// on the server; one small script adds the link preview and live states,
// and every page works without it.
//
// Security: the admin password is stored as an argon2id hash
// ([HashPassword], [CheckPassword]); failed logins are throttled per
// client address; a session is a random 256-bit id in an HttpOnly,
// SameSite=Strict cookie, held in memory with idle and absolute expiry;
// http.CrossOriginProtection refuses cross-origin state-changing
// requests; every response carries a strict Content-Security-Policy (no
// inline script or style). API tokens and invites are shown once and
// stored as SHA-256 hashes only.
//
// Handlers return errors and one function, renderError, turns them into
// pages: an *httpError's sentence is shown as is; anything else is logged
// and shown as a generic sentence.
package console
