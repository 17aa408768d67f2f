// Package api is xpushd's HTTP API (JSON, bearer tokens):
//
//	POST /api/v1/notifications       send to users, a list, or all → 202 {"id"}
//	GET  /api/v1/notifications/{id}  the notification and each recipient's state
//
// A notification is durable in the store before the 202 is written.
// Bodies are limited in size, decoded strictly (unknown fields and
// trailing data are errors), and every error is a JSON object
// {"error": "..."} with a sentence a person can act on.
package api
