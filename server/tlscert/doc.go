// Package tlscert gives xpushd its TLS configuration: either from the
// certificate and key files the operator names ([Load]), or from a
// self-signed certificate that it creates and keeps in the data directory
// ([LoadOrCreate]), so that TLS is on from the first start without any
// setup.
//
// The self-signed certificate is an ECDSA P-256 key and a certificate for
// the server's domain (and for localhost, 127.0.0.1 and ::1 when the
// domain is localhost), valid for one year. It lives in DIR/tls/cert.pem
// and DIR/tls/key.pem; LoadOrCreate makes a new one when the files are
// missing, when the certificate has expired or expires within
// [RenewBefore], or when it no longer covers the domain. A certificate the
// operator put there (one not signed by its own key) is never replaced.
//
// Clients cannot verify a self-signed certificate against a CA, so both
// functions return the certificate's SHA-256 [Fingerprint], which xpushd
// prints at start-up for users to compare or pin.
//
// Files are written atomically (a temporary file, then a rename): the key
// with mode 0600, the certificate with 0644.
package tlscert
