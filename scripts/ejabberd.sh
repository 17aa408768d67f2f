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
# shellcheck source-path=SCRIPTDIR source=lib-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-server.sh"

EJABBERD_LIB=${EJABBERD_LIB:-/usr/lib/x86_64-linux-gnu}

usage() {
	echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2
	exit 2
}

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

start() {
	local dir port pid node cookie t0
	t0=$(now_ms)
	dir=$(abs_dir "$1")
	port=$2
	check_port "$port"
	if ! command -v erl >/dev/null || [[ ! -d $EJABBERD_LIB/ejabberd-23.01 ]]; then
		die "ejabberd 23.01 not installed (run scripts/install-deps.sh test)"
	fi
	pid=$(read_pid "$dir/ejabberd.pid" "$dir/spool")
	if [[ -n $pid ]]; then
		wait_ready "$pid" "$port" "$dir/erl.out"
		echo "ejabberd: already running on 127.0.0.1:$port (pid $pid, dir $dir)"
		return 0
	fi
	port_free "$port"
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
	pid=$!
	echo "$pid" >"$dir/ejabberd.pid"
	if ! wait_ready "$pid" "$port" "$dir/erl.out"; then
		tail -n 20 "$dir/error.log" >&2 2>/dev/null || true
		stop_pid "$pid" KILL
		exit 1
	fi
	echo "ejabberd: ready on 127.0.0.1:$port (pid $pid, node $node@localhost, dir $dir, cert $dir/certs/localhost.crt) in $(since "$t0")s"
}

stop() {
	local dir sig=$2 pid
	if [[ ! -d $1 ]]; then
		echo "ejabberd: not running (no dir $1)"
		return 0
	fi
	dir=$(abs_dir "$1")
	pid=$(read_pid "$dir/ejabberd.pid" "$dir/spool")
	if [[ -z $pid ]]; then
		echo "ejabberd: not running (dir $dir)"
	else
		# The VM takes SIGTERM as init:stop(): applications and Mnesia
		# shut down cleanly.
		stop_pid "$pid" "$sig"
		echo "ejabberd: stopped (pid $pid, SIG$sig)"
	fi
	rm -f "$dir/ejabberd.pid"
}

case ${1:-} in
start)
	(($# == 3)) || usage
	start "$2" "$3"
	;;
stop)
	(($# == 2)) || usage
	stop "$2" TERM
	;;
kill)
	(($# == 2)) || usage
	stop "$2" KILL
	;;
*) usage ;;
esac
