#!/usr/bin/env bash
# xpushd, Prosody and ejabberd measured side by side by the load tool
# (issue 6), and the result published as docs/benchmarks.md with charts.
#
#   scripts/bench-compare.sh [--sizes 1000,10000[,50000]] [--out docs/benchmarks.md]
#       [--servers xpushd,prosody,ejabberd] [--rev REV] [--work DIR] [--port PORT]
#       [--http-port PORT] [--latency-samples N] [--broadcast-rounds N] [--idle SECONDS]
#       [--run-timeout SECONDS] [--tls]
#
# It builds xpushd and xpush-bench (go build) from this work tree, or with
# --rev from that commit of the repository (exported into WORK, so that
# uncommitted changes stay out), then for each size N and each server, one
# after the other:
#   1. starts the server on 127.0.0.1:PORT (default 23222, outside the
#      ephemeral port range) with a fresh private data dir under WORK
#      (default ${TMPDIR:-/tmp}/xpush-bench-compare): xpushd directly
#      (--register-rate 0, --log-level warn, HTTP API on 127.0.0.1:HTTP_PORT,
#      default 23280, with a new API token), Prosody and ejabberd through
#      scripts/prosody.sh and scripts/ejabberd.sh (their configs: logging at
#      warn, open in-band registration with no throttling, no systemd). All
#      three inherit this script's open-file limit, raised to the hard limit;
#   2. registers the N accounts in-band (`xpush-bench run --accounts-only`),
#      and restarts the server on the same data, so that its memory holds
#      no garbage of the registrations when it is measured;
#   3. runs `xpush-bench run` with the same flags for every server: N
#      sessions, SCRAM logins, --latency-samples one-to-one samples,
#      --broadcast-rounds broadcast rounds; xpushd gets --api and its token
#      besides (push through its API, acks tracked);
#   4. stops the server, and keeps the result as OUTDIR/bench/SERVER-N.json
#      (OUTDIR is the directory of --out) and the tool's table as
#      SERVER-N.txt. A server that does not start, or a run that fails,
#      leaves a JSON with the error, and the next run goes on; a size that
#      does not fit the open-file limit or the memory is skipped with a
#      note in the same way.
# With --tls every session uses STARTTLS (each server's own self-signed
# certificate is trusted); without, plain TCP, which all three allow on
# loopback.
# Then `xpush-bench report` writes --out (the table, this command line,
# the machine, what each column measures) and PNG charts into
# OUTDIR/bench. The old results, charts and report are removed first, so
# what is published is always one run.
#
# Every wait is bounded: a server gets START_TIMEOUT (60 s) to come up,
# SETTLE_TIMEOUT (60 s) for its RSS to hold still after the restart, and
# STOP_TIMEOUT (30 s) to go down before SIGKILL; a run gets --run-timeout
# (default 900 s) and is killed 60 s after it. Logs stay in WORK.
# All traffic stays on 127.0.0.0/8. Ports in use make a run fail, not hang.
#
# Needs Go, and Prosody and ejabberd as `scripts/install-deps.sh test`
# installs them; runs as any user.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export PATH="/usr/local/go/bin:$PATH"

# lib-server.sh gives alive, stop_pid, wait_ready, now_ms, since; NAME is
# set to the server in hand before each use.
NAME="bench-compare"
export START_TIMEOUT=${START_TIMEOUT:-60}
export STOP_TIMEOUT=${STOP_TIMEOUT:-30}
# shellcheck source-path=SCRIPTDIR source=lib-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-server.sh"

sizes=1000,10000
servers=xpushd,prosody,ejabberd
out=docs/benchmarks.md
work=${TMPDIR:-/tmp}/xpush-bench-compare
rev=""
port=23222
http_port=23280
latency_samples=500
broadcast_rounds=3
idle=10
run_timeout=900
tls=""
command_line="scripts/bench-compare.sh${*:+ $*}"

usage() {
	sed -n "5,8p" "${BASH_SOURCE[0]}" | sed 's/^# \{0,3\}//' >&2
	exit 2
}

die() {
	echo "bench-compare: $*" >&2
	exit 1
}

say() {
	echo "bench-compare: $*" >&2
}

# whole NAME VALUE: VALUE is a positive whole number.
whole() {
	if ! [[ $2 =~ ^[1-9][0-9]{0,8}$ ]]; then
		die "$1 must be a positive whole number, not '$2'"
	fi
}

while (($# > 0)); do
	opt=$1 val=""
	case $opt in
	--*=*) val=${opt#*=} opt=${opt%%=*} ;;
	--sizes | --servers | --out | --rev | --work | --port | --http-port | --latency-samples | --broadcast-rounds | --idle | --run-timeout)
		(($# >= 2)) || usage
		val=$2
		shift
		;;
	--tls)
		tls=1
		shift
		continue
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
	case $opt in
	--sizes) sizes=$val ;;
	--servers) servers=$val ;;
	--out) out=$val ;;
	--rev) rev=$val ;;
	--work) work=$val ;;
	--port) port=$val ;;
	--http-port) http_port=$val ;;
	--latency-samples) latency_samples=$val ;;
	--broadcast-rounds) broadcast_rounds=$val ;;
	--idle) idle=$val ;;
	--run-timeout) run_timeout=$val ;;
	*) usage ;;
	esac
done

IFS=, read -ra size_list <<<"$sizes"
IFS=, read -ra server_list <<<"$servers"
((${#size_list[@]} > 0)) || die "--sizes is empty"
for n in "${size_list[@]}"; do whole --sizes "$n"; done
for s in "${server_list[@]}"; do
	case $s in xpushd | prosody | ejabberd) ;; *) die "--servers: unknown server '$s' (xpushd, prosody, ejabberd)" ;; esac
done
for v in port http_port latency_samples broadcast_rounds idle run_timeout; do
	whole "--${v//_/-}" "${!v}"
done
((port < 65536 && http_port < 65536)) || die "ports go up to 65535"
[[ $work == /* ]] || work=$PWD/$work
[[ $work != / ]] || die "--work must not be /"
case $out in
/*) ;;
*) out=$repo/$out ;;
esac
outdir=$(abs_dir "$(dirname "$out")")
out=$outdir/$(basename "$out")
resdir=$outdir/bench

# json_str S: S as a JSON string, on one line.
json_str() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/ }
	s=${s//$'\r'/ }
	s=${s//$'\n'/ \/ }
	printf '"%s"' "$s"
}

# note_result FILE KIND N FIELD MESSAGE: a result with no figures, only
# an error (FIELD=errors) or why the size was skipped (FIELD=skipped).
note_result() {
	local file=$1 kind=$2 n=$3 field=$4 msg=$5 value
	value=$(json_str "$msg")
	[[ $field == errors ]] && value="[$value]"
	cat >"$file" <<JSON
{
  "tool": "bench-compare.sh",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "cpus": $(nproc),
  "loadavg": [$(cut -d' ' -f1 /proc/loadavg), $(cut -d' ' -f1 /proc/loadavg)],
  "server": {"addr": "127.0.0.1:$port", "domain": "localhost", "kind": "$kind", "version": $(json_str "${versions[$kind]:-}"), "tls": false},
  "sessions": $n,
  "online": 0,
  "sources": null,
  "nofile": {"soft": $(ulimit -Sn), "hard": $(ulimit -Hn), "soft_before": $(ulimit -Sn), "hard_before": $(ulimit -Hn)},
  "seconds": 0,
  "$field": $value
}
JSON
}

# ---- build and check

for t in go timeout setsid flock; do
	command -v "$t" >/dev/null || die "$t is missing"
done
mkdir -p "$work/bin"
# One run per WORK at a time. The tool inherits the lock, so a tool left
# running by a killed run holds it until it ends; servers do not.
exec {lock_fd}>"$work/lock"
flock -n "$lock_fd" || die "$work/lock is held: another run (or a tool a killed run left behind) is still going; retry when it ends"
src=$repo
if [[ -n $rev ]]; then
	tree=$(git -C "$repo" rev-parse --verify --quiet "$rev^{tree}") || die "--rev: no such revision in $repo: $rev"
	src=$work/src
	rm -rf "$src"
	mkdir -p "$src"
	git -C "$repo" archive --format=tar "$tree" | tar -x -C "$src" || die "cannot export $rev"
	describe=$(git -C "$repo" describe --always --exclude '*' "$rev" 2>/dev/null || echo "$tree")
else
	describe=$(git -C "$repo" describe --always --dirty --exclude '*' 2>/dev/null || true)
fi
say "building xpushd and xpush-bench from $src${rev:+ ($rev)} into $work/bin"
(cd "$src" && go build -o "$work/bin/xpushd" ./cmd/xpushd && go build -o "$work/bin/xpush-bench" ./cmd/xpush-bench) ||
	die "go build failed"
bench=$work/bin/xpush-bench

declare -A versions
versions[xpushd]=${describe:+git $describe}
versions[prosody]=$(dpkg-query -W -f '${Version}' prosody 2>/dev/null || true)
versions[ejabberd]=$(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null || true)
if command -v erl >/dev/null; then
	otp=$(timeout 20 erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' 2>/dev/null || true)
	[[ -z $otp || -z ${versions[ejabberd]} ]] || versions[ejabberd]+=" (Erlang/OTP $otp)"
fi

# Every server and the tool inherit this: one descriptor per session on
# each side.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -Sn)
[[ $nofile == unlimited ]] && nofile=1048576
mem_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
say "open files: $nofile; memory available: $((mem_kib / 1024)) MiB; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Start from an empty record: the published files are one run's.
mkdir -p "$resdir"
rm -f "$resdir"/*.json "$resdir"/*.txt "$resdir"/*.png "$out"

# Per session: a descriptor in the server and one in the tool, which
# share the limit; 1024 more for the server's own files.
fd_margin=1024
# A generous bound of the memory a session costs the server and the tool
# together (measured: 20-120 KiB), so that a size that cannot fit is
# skipped instead of sending the machine into the OOM killer.
kib_per_session=256

# ---- servers

# port_unused PORT: succeed when 127.0.0.1:PORT is free; say so and fail
# when something listens there already.
port_unused() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		say "127.0.0.1:$1 is already in use"
		return 1
	fi
}

current_kind="" current_dir="" current_pid=""

# healthz PORT: xpushd's GET /healthz on 127.0.0.1:PORT answers 200 (within
# 2 s), without curl.
healthz() {
	local fd status=""
	# (A bare exec with 2>/dev/null would silence this shell for good.)
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$1" >&"$fd" || true
	IFS= read -r -t 2 status <&"$fd" || true
	exec {fd}>&-
	[[ $status == "HTTP/"*" 200"* ]]
}

# start_server KIND DIR: start KIND on $port with its data in DIR; sets
# current_pid (and token for xpushd, made on the first start in DIR).
start_server() {
	local kind=$1 dir=$2
	current_kind=$kind current_dir=$dir current_pid=""
	case $kind in
	xpushd)
		NAME=xpushd
		local t0 end
		t0=$(now_ms)
		if ! port_unused "$port" || ! port_unused "$http_port"; then
			return 1
		fi
		if [[ ! -s $dir/token ]]; then
			(umask 077 && "$work/bin/xpushd" token create --data "$dir/data" --name bench >"$dir/token") || return 1
		fi
		token=$(<"$dir/token")
		setsid "$work/bin/xpushd" serve --data "$dir/data" --c2s "127.0.0.1:$port" --http "127.0.0.1:$http_port" \
			--register-rate 0 --log-level warn </dev/null >>"$dir/xpushd.log" 2>&1 {lock_fd}>&- &
		current_pid=$!
		echo "$current_pid" >"$dir/xpushd.pid"
		wait_ready "$current_pid" "$port" "$dir/xpushd.log" || return 1
		end=$((SECONDS + START_TIMEOUT))
		until healthz "$http_port"; do
			if ((SECONDS >= end)); then
				say "xpushd: no /healthz on 127.0.0.1:$http_port after ${START_TIMEOUT}s"
				return 1
			fi
			sleep 0.2
		done
		say "xpushd: ready on 127.0.0.1:$port (pid $current_pid) in $(since "$t0")s"
		;;
	prosody | ejabberd)
		NAME=$kind
		bash "$repo/scripts/$kind.sh" start "$dir" "$port" >&2 {lock_fd}>&- || return 1
		current_pid=$(read_pid "$dir/$kind.pid" "$dir")
		if [[ -z $current_pid ]]; then
			say "$kind: started, but no live pid in $dir/$kind.pid"
			return 1
		fi
		;;
	esac
}

# stop_server: stop the server started last, if any (SIGTERM, SIGKILL after
# STOP_TIMEOUT).
stop_server() {
	[[ -n $current_kind ]] || return 0
	case $current_kind in
	xpushd)
		NAME=xpushd
		if [[ -n $current_pid ]] && alive "$current_pid"; then
			stop_pid "$current_pid" TERM
			say "xpushd: stopped (pid $current_pid)"
		fi
		;;
	*) bash "$repo/scripts/$current_kind.sh" stop "$current_dir" >&2 || true ;;
	esac
	current_kind="" current_dir="" current_pid=""
}

trap 'stop_server' EXIT
trap 'exit 130' INT TERM

# start_or_note KIND N DIR JSON WHAT: start the server; on failure, write
# JSON with the reason and fail.
start_or_note() {
	local kind=$1 n=$2 dir=$3 json=$4 what=$5
	if start_server "$kind" "$dir" 2>"$dir/start.err"; then
		cat "$dir/start.err" >&2
		return 0
	fi
	cat "$dir/start.err" >&2
	note_result "$json" "$kind" "$n" errors "the server did not start$what: $(grep -v '^[[:space:]]*$' "$dir/start.err" | grep -v '^\*\*\*' | tail -n 3 | tr '\n' ' ')"
	stop_server
	return 1
}

# tool LOG OUT ARGS...: run xpush-bench, its stdout to OUT, its stderr to
# LOG and ours, killed after --run-timeout + 60 s; prints its exit code.
tool() {
	local log=$1 txt=$2 rc
	shift 2
	say "$current_kind: xpush-bench $*"
	if XPUSH_BENCH_TOKEN=${token:-} timeout --kill-after=10 $((run_timeout + 60)) "$bench" "$@" \
		2>&1 >"$txt" | tee "$log" >&2; then
		rc=0
	else
		rc=${PIPESTATUS[0]}
	fi
	cat "$txt" >&2
	echo "$rc"
}

# last_error LOG: the tool's last line, its reason for failing.
last_error() {
	grep '^xpush-bench: [^ 0-9]' "$1" 2>/dev/null | tail -n 1 | sed 's/^xpush-bench: //' || true
}

# rss_kib PID: the VmRSS of PID in KiB, 0 when unknown.
rss_kib() {
	awk '/^VmRSS:/ {print $2; found = 1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

# settle PID: wait until the freshly started server's RSS holds still
# (within 1% over two 1-second steps; at most SETTLE_TIMEOUT, 60 s), so
# that the memory read before the logins does not include start-up
# garbage that is given back later (the Erlang VM does this).
settle() {
	local pid=$1 end=$((SECONDS + ${SETTLE_TIMEOUT:-60})) prev cur steady=0
	prev=$(rss_kib "$pid")
	while ((SECONDS < end && steady < 2)); do
		sleep 1
		cur=$(rss_kib "$pid")
		if ((cur > 0 && 100 * (cur > prev ? cur - prev : prev - cur) <= cur)); then
			steady=$((steady + 1))
		else
			steady=0
		fi
		prev=$cur
	done
	say "$current_kind: RSS $prev KiB$( ((steady >= 2)) || echo ", still moving after ${SETTLE_TIMEOUT:-60}s")"
}

# stop_leftover KIND DIR: stop a server that an earlier, killed run of this
# script left running in DIR.
stop_leftover() {
	local kind=$1 dir=$2 pid
	[[ -d $dir ]] || return 0
	if [[ $kind == xpushd ]]; then
		NAME=xpushd
		pid=$(read_pid "$dir/xpushd.pid" "$dir/data")
		if [[ -n $pid ]]; then
			say "xpushd: stopping pid $pid left running in $dir"
			stop_pid "$pid" TERM
		fi
	else
		bash "$repo/scripts/$kind.sh" stop "$dir" >&2 || true
	fi
}

# bench_one KIND N: one cell of the table; never fails the script.
bench_one() {
	local kind=$1 n=$2 dir json txt need rc
	local -a common args
	json=$resdir/$kind-$n.json
	txt=$resdir/$kind-$n.txt
	dir=$work/$kind-$n
	need=$((n + fd_margin))
	if ((nofile < need)); then
		say "$kind $n: skipped: the open-file limit is $nofile, below the $need it needs"
		note_result "$json" "$kind" "$n" skipped "the open-file hard limit here is $nofile: $n sessions need $need in the server and as many in the tool (ulimit -Hn)"
		return 0
	fi
	if ((mem_kib < n * kib_per_session)); then
		say "$kind $n: skipped: not enough memory"
		note_result "$json" "$kind" "$n" skipped "$((mem_kib / 1024)) MiB of memory available, below the $((n * kib_per_session / 1024)) MiB allowed for $n sessions"
		return 0
	fi
	stop_leftover "$kind" "$dir"
	rm -rf "$dir"
	mkdir -p "$dir"
	token=""
	common=(--server "127.0.0.1:$port" --domain localhost --sessions "$n"
		--latency-samples "$latency_samples" --latency-warmup 10 --broadcast-rounds "$broadcast_rounds")
	[[ $kind != xpushd ]] || common+=(--api "http://127.0.0.1:$http_port")
	if [[ -n $tls ]]; then
		# Made by the server on its first start.
		if [[ $kind == xpushd ]]; then
			common+=(--tls --tls-ca "$dir/data/tls/cert.pem")
		else
			common+=(--tls --tls-ca "$dir/certs/localhost.crt")
		fi
	fi

	say "$kind $n: registering $n accounts (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	start_or_note "$kind" "$n" "$dir" "$json" "" || return 0
	rc=$(tool "$dir/accounts.log" "$dir/accounts.txt" run "${common[@]}" --register --accounts-only \
		--timeout "${run_timeout}s" --out "$dir/accounts.json")
	stop_server
	if ((rc != 0)); then
		note_result "$json" "$kind" "$n" errors "registering the accounts failed (exit $rc): $(last_error "$dir/accounts.log")"
		return 0
	fi

	say "$kind $n: measuring (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	start_or_note "$kind" "$n" "$dir" "$json" " again after the registrations" || return 0
	[[ -z $current_pid ]] || settle "$current_pid"
	args=(run "${common[@]}" --idle "${idle}s" --timeout "${run_timeout}s" --out "$json")
	[[ -z $current_pid ]] || args+=(--pid "$current_pid")
	[[ -z ${versions[$kind]} ]] || args+=(--server-version "${versions[$kind]}")
	rc=$(tool "$dir/bench.log" "$txt" "${args[@]}")
	if [[ ! -s $json ]]; then
		note_result "$json" "$kind" "$n" errors "xpush-bench exited $rc without a result: $(last_error "$dir/bench.log")"
	elif ((rc != 0)); then
		say "$kind $n: xpush-bench exited $rc: $(last_error "$dir/bench.log")"
	fi
	if [[ -n $current_pid ]] && ! alive "$current_pid"; then
		say "$kind $n: the server died during the run; last log lines:"
		tail -n 20 "$dir"/*.log >&2 2>/dev/null || true
	fi
	stop_server
}

t0=$(now_ms)
for n in "${size_list[@]}"; do
	for kind in "${server_list[@]}"; do
		bench_one "$kind" "$n"
	done
done
say "all runs done in $(since "$t0")s"

mapfile -t results < <(for n in "${size_list[@]}"; do for kind in "${server_list[@]}"; do echo "$resdir/$kind-$n.json"; done; done)
"$bench" report --md "$out" --charts "$resdir" --command "$command_line" "${results[@]}"
say "wrote $out and the charts in $resdir"
