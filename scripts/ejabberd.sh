#!/usr/bin/env bash
# Run Debian's ejabberd 23.01 on loopback with a private config and data dir,
# by starting the Erlang VM directly (no ejabberdctl, no systemd, no
# ejabberd user).
#   scripts/ejabberd.sh start DIR PORT   start on 127.0.0.1:PORT, wait until ready
#   scripts/ejabberd.sh stop DIR         SIGTERM (init:stop), SIGKILL after STOP_TIMEOUT
#   scripts/ejabberd.sh kill DIR         SIGKILL (a crash)
# Domain "localhost"; in-band registration open and unthrottled; passwords
# stored as SCRAM-SHA-256; STARTTLS offered, not required, with a self-signed
# cert (DIR/certs/localhost.crt). Mnesia lives in DIR/spool and survives
# stop/start. Logs: DIR/ejabberd.log, DIR/error.log, DIR/erl.out.
# The Erlang node is ejabberd_PORT@localhost (kept in DIR/node, so a later
# start on another port still finds its Mnesia data); epmd is started on
# 127.0.0.1:4369 by the first node and left running, as Erlang does.
set -euo pipefail

NAME=ejabberd
PID_MARK=spool
READY_LOG=erl.out
FAIL_LOG=error.log
# shellcheck source-path=SCRIPTDIR source=lib-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-server.sh"

EJABBERD_LIB=${EJABBERD_LIB:-/usr/lib/x86_64-linux-gnu}

write_config() {
	local dir=$1 port=$2
	cat >"$dir/ejabberd.yml" <<CFG
# Written by scripts/ejabberd.sh on each start; edits are lost.
hosts:
  - localhost
loglevel: warning
hide_sensitive_log_data: true
certfiles:
  - "$dir/certs/localhost.pem"
acme:
  auto: false

listen:
  -
    port: $port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    starttls: true
    starttls_required: false
    backlog: 1024

# No s2s listener, and no outgoing s2s either.
s2s_access: none

auth_method: internal
auth_password_format: scram
auth_scram_hash: sha256
# Offered by default and useless here; leaves PLAIN and SCRAM-SHA-256(-PLUS).
disable_sasl_mechanisms:
  - X-OAUTH2

# The default (600 s) allows one registration per IP per 10 minutes.
registration_timeout: infinity

access_rules:
  register:
    allow: all
shaper_rules:
  max_user_offline_messages: 5000

modules:
  mod_disco: {}
  mod_offline: {}
  mod_ping: {}
  mod_register:
    ip_access: all
    access: register
  mod_roster: {}
  mod_stream_mgmt:
    resume_timeout: 300
    # A session that times out with unacked stanzas: store them offline.
    resend_on_timeout: if_offline
CFG
}

server_installed() {
	if ! command -v erl >/dev/null || [[ ! -d $EJABBERD_LIB/ejabberd-23.01 ]]; then
		die "ejabberd 23.01 not installed (run scripts/install-deps.sh test)"
	fi
}

# server_launch DIR PORT: on stop, the VM takes SIGTERM as init:stop():
# applications and Mnesia shut down cleanly.
server_launch() {
	local dir=$1 port=$2 node cookie
	mkdir -p "$dir/spool"
	[[ -s $dir/node ]] || echo "ejabberd_$port" >"$dir/node"
	[[ -s $dir/cookie ]] || (umask 077 && openssl rand -hex 16 >"$dir/cookie")
	node=$(<"$dir/node")
	cookie=$(<"$dir/cookie")
	ensure_cert "$dir"
	write_config "$dir" "$port"
	# Name resolution without DNS.
	cat >"$dir/inetrc" <<'RC'
{lookup, [file, native]}.
{host, {127,0,0,1}, ["localhost"]}.
RC
	# Detached, with no fd of the caller's kept open; erl execs beam.smp, so
	# $! is the VM's pid.
	(
		cd "$dir"
		export HOME=$dir ERL_LIBS=$EJABBERD_LIB ERL_EPMD_ADDRESS=127.0.0.1 \
			ERL_INETRC=$dir/inetrc ERL_CRASH_DUMP_BYTES=0 \
			EJABBERD_CONFIG_PATH=$dir/ejabberd.yml \
			EJABBERD_LOG_PATH=$dir/ejabberd.log \
			EJABBERD_PID_PATH=$dir/ejabberd.pid
		exec setsid erl +P 1000000 -noinput -noshell \
			-sname "$node@localhost" -setcookie "$cookie" \
			-kernel inet_dist_use_interface '{127,0,0,1}' \
			-mnesia dir "\"$dir/spool\"" -s ejabberd
	) </dev/null >>"$dir/erl.out" 2>&1 &
}

server_about() {
	echo "node $(<"$1/node")@localhost, "
}

server_main "$@"
