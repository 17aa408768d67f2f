#!/usr/bin/env bash
# Run Debian's PostgreSQL on loopback with a private data dir, no systemd.
#   scripts/postgres.sh start DIR PORT   initdb DIR/data once, start on
#                                        127.0.0.1:PORT, wait until ready,
#                                        create database xpush; the last line
#                                        printed is the DSN
#   scripts/postgres.sh stop DIR         fast shutdown (SIGINT), SIGKILL after STOP_TIMEOUT
#   scripts/postgres.sh kill DIR         SIGKILL to the server and its backends (a crash)
#   scripts/postgres.sh status DIR       "running" (exit 0) or "not running" (exit 3)
#   scripts/postgres.sh dsn DIR          print the DSN
#   scripts/postgres.sh install          apt-get install postgresql, without
#                                        letting the package start its service
# The DSN is postgres://xpush:PASSWORD@127.0.0.1:PORT/xpush?sslmode=disable:
# superuser xpush, its password generated once in DIR/password (mode 600),
# SCRAM over TCP on 127.0.0.1 only, no Unix socket, no TLS. Data survive
# stop/start. Log: DIR/postgres.log.
#
# PostgreSQL refuses to run as root: as root, the server runs as the OS user
# PG_OS_USER (default postgres, which Debian's package creates) and owns
# DIR/data; DIR and every directory above it must let that user through
# (search permission). As any other user it runs as that user.
# PG_BIN overrides the server's bin directory (default: the newest
# /usr/lib/postgresql/*/bin).
set -euo pipefail

NAME=postgres
# shellcheck source-path=SCRIPTDIR source=lib-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-server.sh"

PG_OS_USER=${PG_OS_USER:-postgres}
DB=xpush
DB_USER=xpush

usage() {
	echo "usage: $0 start DIR PORT | stop DIR | kill DIR | status DIR | dsn DIR | install" >&2
	exit 2
}

# pg_bin: the server's bin directory.
pg_bin() {
	if [[ -n ${PG_BIN:-} ]]; then
		echo "$PG_BIN"
		return
	fi
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/postgres ]] ||
		die "PostgreSQL server not installed (run scripts/install-deps.sh test, or $0 install)"
	echo "$d"
}

# as_pg CMD...: run CMD as the server's OS user (as ourselves unless root);
# setpriv execs, so CMD keeps the pid.
as_pg_cmd=()
if (($(id -u) == 0)); then
	as_pg_cmd=(setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups --)
fi
as_pg() {
	"${as_pg_cmd[@]}" "$@"
}

# dsn DIR: the connection string of the server in DIR.
dsn() {
	local dir=$1
	[[ -s $dir/password && -s $dir/port ]] || die "no server set up in $dir"
	printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable\n' \
		"$DB_USER" "$(<"$dir/password")" "$(<"$dir/port")" "$DB"
}

# psql_admin DIR SQL: run SQL as the superuser, over TCP.
psql_admin() {
	local dir=$1 sql=$2
	PGPASSWORD=$(<"$dir/password") PGCONNECT_TIMEOUT=5 "$(pg_bin)/psql" -X -q -At \
		-h 127.0.0.1 -p "$(<"$dir/port")" -U "$DB_USER" -d postgres -v ON_ERROR_STOP=1 -c "$sql"
}

# check_reachable DIR: the server's OS user can reach DIR (which we own:
# let others through it, not list it).
check_reachable() {
	local dir=$1
	if (($(id -u) == 0)); then
		getent passwd "$PG_OS_USER" >/dev/null ||
			die "no OS user $PG_OS_USER to run the server as (PostgreSQL refuses root); set PG_OS_USER"
		chmod go+x "$dir"
	fi
	if ! as_pg test -x "$dir" 2>/dev/null; then
		die "user $PG_OS_USER cannot reach $dir: give it search permission on every directory above (chmod o+x), or use a directory under /tmp"
	fi
}

# init_cluster DIR: initdb DIR/data once, with the superuser's password.
init_cluster() {
	local dir=$1 bin=$2 pwfile
	if [[ -s $dir/data/PG_VERSION ]]; then
		local have want
		have=$(<"$dir/data/PG_VERSION")
		want=$("$bin/postgres" --version | sed -E 's/.* ([0-9]+)[.0-9]*.*/\1/')
		[[ $have == "$want" ]] || die "$dir/data is PostgreSQL $have, the server is $want"
		return 0
	fi
	[[ -s $dir/password ]] || (umask 077 && openssl rand -hex 16 >"$dir/password")
	rm -rf "$dir/data"
	mkdir -m 700 "$dir/data"
	pwfile=$dir/data.pwfile
	(umask 077 && cat "$dir/password" >"$pwfile")
	if (($(id -u) == 0)); then
		chown "$PG_OS_USER:" "$dir/data" "$pwfile"
	fi
	# cd: initdb wants to be able to read its working directory.
	if ! (cd "$dir" && as_pg "$bin/initdb" -D "$dir/data" -U "$DB_USER" --pwfile="$pwfile" \
		--auth-host=scram-sha-256 --auth-local=peer --encoding=UTF8 --locale=C \
		>"$dir/initdb.log" 2>&1); then
		rm -f "$pwfile"
		tail -n 20 "$dir/initdb.log" >&2
		die "initdb failed (log $dir/initdb.log)"
	fi
	rm -f "$pwfile"
}

# wait_pg PID DIR: wait until the server accepts connections.
wait_pg() {
	local pid=$1 dir=$2 bin end=$((SECONDS + START_TIMEOUT))
	bin=$(pg_bin)
	while ((SECONDS < end)); do
		if ! alive "$pid"; then
			echo "$NAME: exited during start-up; last log lines:" >&2
			tail -n 30 "$dir/postgres.log" >&2 || true
			return 1
		fi
		if "$bin/pg_isready" -q -h 127.0.0.1 -p "$(<"$dir/port")" -U "$DB_USER" -d postgres -t 1 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "$NAME: not ready on 127.0.0.1:$(<"$dir/port") after ${START_TIMEOUT}s; last log lines:" >&2
	tail -n 30 "$dir/postgres.log" >&2 || true
	return 1
}

# ensure_db DIR: create the database unless it exists.
ensure_db() {
	local dir=$1
	if [[ -z $(psql_admin "$dir" "SELECT 1 FROM pg_database WHERE datname = '$DB'") ]]; then
		psql_admin "$dir" "CREATE DATABASE $DB"
	fi
}

pg_start() {
	local dir port pid bin t0
	t0=$(now_ms)
	dir=$(abs_dir "$1")
	port=$2
	check_port "$port"
	bin=$(pg_bin)
	pid=$(read_pid "$dir/$NAME.pid" "$dir/data")
	if [[ -n $pid ]]; then
		[[ $(<"$dir/port") == "$port" ]] || die "already running on port $(<"$dir/port") (pid $pid), not $port"
		wait_pg "$pid" "$dir" || exit 1
		ensure_db "$dir"
		echo "$NAME: already running on 127.0.0.1:$port (pid $pid, dir $dir)"
		dsn "$dir"
		return 0
	fi
	port_free "$port"
	check_reachable "$dir"
	init_cluster "$dir" "$bin"
	echo "$port" >"$dir/port"
	clear_stale_lock "$dir"
	# Detached (setsid), with no fd of the caller's kept open; setpriv
	# execs, so $! is the server's pid.
	(
		cd "$dir/data"
		exec setsid env -u PGDATA -u PGPORT -u PGHOST "${as_pg_cmd[@]}" "$bin/postgres" -D "$dir/data" \
			-c listen_addresses=127.0.0.1 -c port="$port" -c unix_socket_directories= \
			-c logging_collector=off -c log_min_messages=warning \
			-c max_connections="${PG_MAX_CONNECTIONS:-100}"
	) </dev/null >>"$dir/postgres.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/$NAME.pid"
	if ! wait_pg "$pid" "$dir"; then
		pg_kill "$pid"
		exit 1
	fi
	ensure_db "$dir"
	echo "$NAME: ready on 127.0.0.1:$port (pid $pid, $("$bin/postgres" --version | sed 's/.*) //'), dir $dir) in $(since "$t0")s"
	dsn "$dir"
}

# clear_stale_lock DIR: remove the lock file a killed server left behind
# when its pid is not a live process. PostgreSQL checks that itself, but
# takes a zombie (a killed server that its new parent has not reaped yet)
# for a live server.
clear_stale_lock() {
	local lock=$1/data/postmaster.pid pid
	[[ -s $lock ]] || return 0
	pid=$(head -n 1 "$lock" | tr -dc 0-9)
	if [[ -n $pid ]] && ! alive "$pid"; then
		rm -f "$lock"
	fi
}

# pg_kill PID: SIGKILL the server's process group (the postmaster and its
# backends, which would otherwise linger and keep a restart waiting), and
# wait until they are all gone.
pg_kill() {
	local p
	kill -KILL -- "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
	while alive "$1"; do
		sleep 0.05
	done
	for p in $(pgrep -g "$1" 2>/dev/null || true); do
		while alive "$p"; do
			sleep 0.05
		done
	done
}

# pg_stop DIR how: stop the server (fast shutdown or SIGKILL).
pg_stop() {
	local dir how=$2 pid
	if [[ ! -d $1 ]]; then
		echo "$NAME: not running (no dir $1)"
		return 0
	fi
	dir=$(abs_dir "$1")
	pid=$(read_pid "$dir/$NAME.pid" "$dir/data")
	if [[ -z $pid ]]; then
		echo "$NAME: not running (dir $dir)"
	elif [[ $how == kill ]]; then
		pg_kill "$pid"
		echo "$NAME: killed (pid $pid, SIGKILL)"
	else
		# SIGINT is PostgreSQL's fast shutdown: it ends the sessions,
		# checkpoints and exits (SIGTERM would wait for clients to leave).
		stop_pid "$pid" INT
		echo "$NAME: stopped (pid $pid, SIGINT)"
	fi
	rm -f "$dir/$NAME.pid"
}

pg_status() {
	local dir pid
	if [[ ! -d $1 ]]; then
		echo "$NAME: not running (no dir $1)"
		exit 3
	fi
	dir=$(abs_dir "$1")
	pid=$(read_pid "$dir/$NAME.pid" "$dir/data")
	if [[ -z $pid ]]; then
		echo "$NAME: not running (dir $dir)"
		exit 3
	fi
	echo "$NAME: running on 127.0.0.1:$(<"$dir/port") (pid $pid, dir $dir)"
	dsn "$dir"
}

POLICY=/usr/sbin/policy-rc.d
sudo=()
pg_install() {
	if (($(id -u) != 0)); then
		sudo=(sudo)
	fi
	# Keep the package's maintainer scripts from starting a cluster.
	if [[ ! -e $POLICY ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$POLICY" >/dev/null
		"${sudo[@]}" chmod 755 "$POLICY"
		trap '"${sudo[@]}" rm -f "$POLICY"' EXIT
	fi
	"${sudo[@]}" apt-get update -qq -o DPkg::Lock::Timeout=300
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		-o DPkg::Lock::Timeout=300 --no-install-recommends -o Dpkg::Use-Pty=0 postgresql >/dev/null
	echo "$NAME: installed $("$(pg_bin)/postgres" --version)"
}

case ${1:-} in
start)
	(($# == 3)) || usage
	pg_start "$2" "$3"
	;;
stop)
	(($# == 2)) || usage
	pg_stop "$2" stop
	;;
kill)
	(($# == 2)) || usage
	pg_stop "$2" kill
	;;
status)
	(($# == 2)) || usage
	pg_status "$2"
	;;
dsn)
	(($# == 2)) || usage
	[[ -d $2 ]] || die "no dir $2"
	dsn "$(cd "$2" && pwd -P)"
	;;
install)
	(($# == 1)) || usage
	pg_install
	;;
*) usage ;;
esac
