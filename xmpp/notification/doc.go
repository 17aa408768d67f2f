// Package notification holds the push notification that xpush delivers,
// and the two wire forms it takes: the paper's
// <iq type="set"><notification xmlns="androidpn:iq:notification"/></iq>,
// and a standard <message/> (headline, normal or chat) whose link is an
// XEP-0066 out-of-band URL. The client and the server both build on it.
//
// URIs are checked, never trusted: a notification whose uri has a scheme
// outside the allowed list (http and https by default) is kept, with
// URIUnsafe set, so that a user interface can show it without opening it.
package notification
