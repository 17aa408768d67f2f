// Package send validates a notification request, stores it durably and
// hands it to the delivery hub. The HTTP API and the web console both
// send through it, so both apply the same rules.
package send
