// Package xmpptest is the server side of the client's tests: a scriptable
// fake XMPP server for one connection at a time, over net.Pipe. It is for
// tests only; nothing outside _test.go files may import it.
//
// A test gives the client a [Dialer] (its Dial method goes in
// xmpp.Config.Dial) and takes each connection the client makes with
// [Dialer.Accept], which returns a [Server]. The test then plays the
// server's part step by step:
//
//	srv := d.Accept()
//	srv.ExpectHeader()
//	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
//	srv.SASL(accounts)
//	...
//
// Every Expect method reads the next top-level element (or whitespace, or
// the end of the stream) the client wrote, with a deadline of
// [Server.Timeout], and fails the test when it is not what the script
// wants. A background goroutine drains the connection all the time, so
// the client never blocks writing; Send writes with a deadline too.
//
// Failures are reported with t.Errorf, never t.Fatal, so the methods may
// be called from any goroutine. After a failure the Server closes the
// connection and every later call returns at once with a zero value (the
// stanza helpers are nil-safe), so a broken script ends quickly instead of
// hanging. A test that runs the script on its own goroutine can stop at a
// failure with [Server.Failed] and t.FailNow.
//
// SASL plays SCRAM-SHA-256, SCRAM-SHA-1 (with their -PLUS variants, the
// channel binding computed from the server's side of the TLS connection)
// and PLAIN against an [Accounts] database, with github.com/xdg-go/scram's
// server. StartTLS and StartDirectTLS put TLS under the stream, with a
// certificate from [TLSConfigs].
//
// Everything the client wrote and everything the server wrote is recorded,
// in script order, as a transcript of "C: " and "S: " lines
// ([Server.Transcript]); SASL payloads are decoded there and their nonces,
// proofs and signatures redacted, so that a transcript is reproducible and
// can be compared with a golden file ([Golden]).
package xmpptest
