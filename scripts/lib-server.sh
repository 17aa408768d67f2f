# shellcheck shell=bash
# Helpers shared by prosody.sh and ejabberd.sh; sourced, not run.
#
# server_main (start, stop and kill) runs on what the sourcing script defines:
#   NAME                  the server's name; DIR/NAME.pid holds its pid
#   PID_MARK              a file in DIR that the server's command line names
#   READY_LOG             the file in DIR to show if start-up fails
#   FAIL_LOG              another file in DIR to show the tail of then
#   server_installed      die unless the server is installed
#   server_launch DIR PORT  write the config in DIR and start the server in
#                         the background, detached, so that $! is its pid
#   server_about DIR      extra words for the ready line ("node N, "), or none

# Seconds to wait for a server to come up or go down.
START_TIMEOUT=${START_TIMEOUT:-30}
STOP_TIMEOUT=${STOP_TIMEOUT:-15}

die() {
	echo "$NAME: $*" >&2
	exit 1
}

# now_ms: wall clock in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# since T0: seconds since now_ms printed T0, as 1.234.
since() {
	local d=$(($(now_ms) - $1))
	printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# abs_dir DIR: create DIR and print its absolute path.
abs_dir() {
	mkdir -p "$1"
	(cd "$1" && pwd -P)
}

# check_port PORT: a TCP port number.
check_port() {
	if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65535)); then
		die "bad port: $1"
	fi
}

# port_free PORT: fail if something already listens on 127.0.0.1:PORT (it
# would answer our readiness probe in the new server's place).
port_free() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		die "127.0.0.1:$1 is already in use"
	fi
}

# ensure_cert DIR: a self-signed certificate for localhost in DIR/certs
# (localhost.crt, localhost.key and both in localhost.pem), made once.
ensure_cert() {
	local c=$1/certs
	if [[ ! -s $c/localhost.pem ]]; then
		mkdir -p "$c"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -days 3650 -subj /CN=localhost \
			-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
			-keyout "$c/localhost.key" -out "$c/localhost.crt" 2>/dev/null
		chmod 600 "$c/localhost.key"
		cat "$c/localhost.crt" "$c/localhost.key" >"$c/localhost.pem"
		chmod 600 "$c/localhost.pem"
	fi
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && ${st:0:1} != Z ]]
}

# read_pid FILE MARK: the pid in FILE if that process is alive and its command
# line mentions MARK (guards against a reused pid); else nothing.
read_pid() {
	local file=$1 mark=$2 pid
	[[ -s $file ]] || return 0
	pid=$(tr -dc 0-9 <"$file")
	if [[ -z $pid ]] || ! alive "$pid"; then
		return 0
	fi
	if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$mark"; then
		echo "$pid"
	fi
}

# xmpp_features PORT: open a client stream to localhost on 127.0.0.1:PORT and
# print what the server sends until </stream:features> (2 s per read).
xmpp_features() {
	local fd chunk out=""
	exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf '%s' "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" >&"$fd" || true
	while IFS= read -r -t 2 -d '>' chunk <&"$fd"; do
		out+="$chunk>"
		[[ $out == *'</stream:features>'* ]] && break
	done
	exec {fd}>&-
	printf '%s\n' "$out"
}

# wait_ready PID PORT LOG: wait until the server on PORT offers stream
# features with SASL mechanisms; fail with the log tail if PID dies or time
# runs out.
wait_ready() {
	local pid=$1 port=$2 log=$3 end=$((SECONDS + START_TIMEOUT)) f
	while ((SECONDS < end)); do
		if ! alive "$pid"; then
			echo "$NAME: exited during start-up; last log lines:" >&2
			tail -n 30 "$log" >&2 || true
			return 1
		fi
		f=$(xmpp_features "$port" 2>/dev/null || true)
		if [[ $f == *'</stream:features>'* && $f == *mechanism* ]]; then
			return 0
		fi
		sleep 0.2
	done
	echo "$NAME: not ready on 127.0.0.1:$port after ${START_TIMEOUT}s; last log lines:" >&2
	tail -n 30 "$log" >&2 || true
	return 1
}

# stop_pid PID SIGNAL: send SIGNAL, wait up to STOP_TIMEOUT, then SIGKILL.
stop_pid() {
	local pid=$1 sig=$2 end=$((SECONDS + STOP_TIMEOUT))
	kill "-$sig" "$pid" 2>/dev/null || return 0
	while alive "$pid"; do
		if ((SECONDS >= end)); then
			echo "$NAME: pid $pid still running after ${STOP_TIMEOUT}s, sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	# Wait for a SIGKILL to land.
	while alive "$pid"; do
		sleep 0.05
	done
}

usage() {
	echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2
	exit 2
}

# server_start DIR PORT: start the server on 127.0.0.1:PORT unless it runs
# already, and wait until it is ready.
server_start() {
	local dir port pid t0
	t0=$(now_ms)
	dir=$(abs_dir "$1")
	port=$2
	check_port "$port"
	server_installed
	pid=$(read_pid "$dir/$NAME.pid" "$dir/$PID_MARK")
	if [[ -n $pid ]]; then
		wait_ready "$pid" "$port" "$dir/$READY_LOG"
		echo "$NAME: already running on 127.0.0.1:$port (pid $pid, dir $dir)"
		return 0
	fi
	port_free "$port"
	server_launch "$dir" "$port"
	pid=$!
	echo "$pid" >"$dir/$NAME.pid"
	if ! wait_ready "$pid" "$port" "$dir/$READY_LOG"; then
		tail -n 20 "$dir/$FAIL_LOG" >&2 2>/dev/null || true
		stop_pid "$pid" KILL
		exit 1
	fi
	echo "$NAME: ready on 127.0.0.1:$port (pid $pid, $(server_about "$dir")dir $dir, cert $dir/certs/localhost.crt) in $(since "$t0")s"
}

# server_stop DIR SIGNAL: stop the server with SIGNAL (SIGKILL after
# STOP_TIMEOUT).
server_stop() {
	local dir sig=$2 pid
	if [[ ! -d $1 ]]; then
		echo "$NAME: not running (no dir $1)"
		return 0
	fi
	dir=$(abs_dir "$1")
	pid=$(read_pid "$dir/$NAME.pid" "$dir/$PID_MARK")
	if [[ -z $pid ]]; then
		echo "$NAME: not running (dir $dir)"
	else
		stop_pid "$pid" "$sig"
		echo "$NAME: stopped (pid $pid, SIG$sig)"
	fi
	rm -f "$dir/$NAME.pid"
}

# server_main ARGS: the command line of prosody.sh and ejabberd.sh.
server_main() {
	case ${1:-} in
	start)
		(($# == 3)) || usage
		server_start "$2" "$3"
		;;
	stop)
		(($# == 2)) || usage
		server_stop "$2" TERM
		;;
	kill)
		(($# == 2)) || usage
		server_stop "$2" KILL
		;;
	*) usage ;;
	esac
}
