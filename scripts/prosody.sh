#!/usr/bin/env bash
# Run Debian's Prosody on loopback with a private config and data dir.
#   scripts/prosody.sh start DIR PORT   start on 127.0.0.1:PORT, wait until ready
#   scripts/prosody.sh stop DIR         SIGTERM, then SIGKILL after STOP_TIMEOUT
#   scripts/prosody.sh kill DIR         SIGKILL (a crash)
# Domain "localhost"; in-band registration open; PLAIN allowed without TLS;
# STARTTLS offered with a self-signed cert (DIR/certs/localhost.crt).
# Accounts live in DIR/data and survive stop/start. Log: DIR/prosody.log.
set -euo pipefail

NAME=prosody
PID_MARK=prosody.cfg.lua
READY_LOG=prosody.log
FAIL_LOG=prosody.out
# shellcheck source-path=SCRIPTDIR source=lib-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-server.sh"

# lua_str S: S as a Lua string literal.
lua_str() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

write_config() {
	local dir=$1 port=$2
	cat >"$dir/prosody.cfg.lua" <<CFG
-- Written by scripts/prosody.sh on each start; edits are lost.
run_as_root = true
pidfile = $(lua_str "$dir/prosody.pid")
data_path = $(lua_str "$dir/data")
log = { warn = $(lua_str "$dir/prosody.log") } -- warn and error

interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_direct_tls_ports = {}
-- No server-to-server, no HTTP, no components.
modules_disabled = { "s2s", "s2s_auth_certs", "dialback" }

modules_enabled = {
	"roster"; "saslauth"; "tls"; "disco"; "register"; "ping"; "smacks";
	"offline"; -- posix, c2s, presence, message, iq load by themselves
}

authentication = "internal_hashed" -- SCRAM-SHA-1 from stored keys, PLAIN
storage = "internal"

-- Tests speak plain XMPP on loopback; STARTTLS is offered, not required.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true

-- Open in-band registration (XEP-0077) with no throttling: throttling is
-- off while min_seconds_between_registrations is unset, and 127.0.0.1 is
-- on the default allowlist anyway.
allow_registration = true

-- Stream management: keep a dropped session resumable for 5 minutes.
smacks_hibernation_time = 300

certificates = $(lua_str "$dir/certs")

VirtualHost "localhost"
	ssl = {
		certificate = $(lua_str "$dir/certs/localhost.crt");
		key = $(lua_str "$dir/certs/localhost.key");
	}
CFG
}

server_installed() {
	command -v prosody >/dev/null || die "prosody not installed (run scripts/install-deps.sh test)"
}

server_launch() {
	local dir=$1 port=$2
	mkdir -p "$dir/data"
	ensure_cert "$dir"
	write_config "$dir" "$port"
	# Detached, with no fd of the caller's kept open (a Go test reading our
	# stdout would otherwise wait for the server to exit).
	setsid prosody -F --config "$dir/prosody.cfg.lua" \
		</dev/null >>"$dir/prosody.out" 2>&1 &
}

server_about() { :; }

server_main "$@"
