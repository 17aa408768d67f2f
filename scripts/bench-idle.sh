#!/usr/bin/env bash
# The tray agent's idle cost: RSS, CPU and wake-ups of an xpush agent that
# is connected and has nothing to do (issue 5's benchmark).
#
#   scripts/bench-idle.sh [--duration SECONDS] [--settle SECONDS] [--trace SECONDS] [--xpush BINARY]
#
# It builds xpush and xpushd, starts a private desktop as the end-to-end
# test does (xvfb-run, dbus-run-session, dunst, gnome-keyring, a private
# HOME and XDG directories), starts xpushd on loopback and
# `xpush --server … --jid alice@localhost --register`, waits until the agent
# is online and then SETTLE seconds (default 15), and measures it for
# DURATION seconds (default 600):
#   RSS        VmRSS at the end, and its range over the run; its parts
#              (RssAnon: heap and stacks; RssFile: pages of the binary
#              and libraries, which the kernel may drop and read again)
#              and VmHWM, the peak since start
#   CPU        user + system time of all its threads (schedstat, ns)
#   wake-ups   voluntary context switches, summed over its threads: each
#              is a thread going to sleep, to be woken up again; the
#              involuntary ones (preemptions) are shown beside them
# per thread and in total, and ends with one `result:` line of key=value
# pairs. It is a benchmark: it prints numbers and does not judge them.
#
# --xpush BINARY measures that build of the agent instead of building one
# from this tree (to compare two versions).
#
# --trace SECONDS then attaches strace to the agent for that long and
# lists each burst of activity with what it did (keepalive, ping, GC,
# timer...), to see where the wake-ups come from. strace slows the
# process down, so this runs after the measurement, not during it.
#
# Needs what `scripts/install-deps.sh test` installs (and strace for
# --trace); runs as any user.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export PATH="/usr/local/go/bin:$PATH"

duration=600 settle=15 trace=0 inside="" xpush=""

usage() {
	echo "usage: $0 [--duration SECONDS] [--settle SECONDS] [--trace SECONDS] [--xpush BINARY]" >&2
	exit 2
}

die() {
	echo "bench-idle: $*" >&2
	exit 1
}

# seconds NAME VALUE: a whole number of seconds.
seconds() {
	[[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a whole number of seconds, not '$2'"
}

while (($# > 0)); do
	case $1 in
	--duration | --settle | --trace)
		(($# >= 2)) || usage
		seconds "$1" "$2"
		declare "${1#--}=$2"
		shift 2
		;;
	--duration=* | --settle=* | --trace=*)
		name=${1%%=*} value=${1#*=}
		seconds "$name" "$value"
		declare "${name#--}=$value"
		shift
		;;
	--xpush)
		(($# >= 2)) || usage
		[[ -x $2 ]] || die "--xpush: $2 is not an executable"
		xpush=$(cd "$(dirname "$2")" && pwd -P)/$(basename "$2")
		shift 2
		;;
	--inside)
		(($# >= 2)) || usage
		inside=$2
		shift 2
		;;
	*) usage ;;
	esac
done
((duration > 0)) || die "--duration must be at least 1"

# ---- outside: build, then run this script again on a private desktop

outside() {
	local t work
	for t in go xvfb-run Xvfb xauth dbus-run-session dunst gnome-keyring-daemon busctl; do
		command -v "$t" >/dev/null || die "$t is missing: run scripts/install-deps.sh test"
	done
	if ((trace > 0)); then
		command -v strace >/dev/null || die "--trace needs strace (apt-get install strace)"
	fi
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $work now
	trap "rm -rf '$work'" EXIT
	mkdir -p "$work/bin"
	if [[ -n $xpush ]]; then
		echo "bench-idle: building xpushd; the agent is $xpush" >&2
		cp "$xpush" "$work/bin/xpush"
	else
		echo "bench-idle: building xpush and xpushd" >&2
		(cd "$repo" && go build -o "$work/bin/xpush" .)
	fi
	(cd "$repo" && CGO_ENABLED=0 go build -o "$work/bin/xpushd" ./cmd/xpushd)
	xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
		dbus-run-session -- \
		bash "${BASH_SOURCE[0]}" --inside "$work" \
		--duration "$duration" --settle "$settle" --trace "$trace"
}

# ---- inside: the desktop, the server, the agent, the measurement

pids=()

# background NAME CMD...: start CMD in the background, output to
# $work/NAME.log; it is stopped when the script exits.
background() {
	local name=$1
	shift
	"$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
}

stop_all() {
	local p
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		p=${pids[i]}
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}

# wait_for WHAT SECONDS CMD...: run CMD until it succeeds.
wait_for() {
	local what=$1 end=$((SECONDS + $2))
	shift 2
	until "$@"; do
		((SECONDS < end)) || die "timed out waiting for $what"
		sleep 0.1
	done
}

bus_name() { busctl --user status "$1" >/dev/null 2>&1; }

# tasks PID: "tid voluntary involuntary cpu_ns" for each thread.
tasks() {
	local t
	for t in /proc/"$1"/task/*; do
		[[ -r $t/status ]] || continue
		awk -v tid="${t##*/}" -v cpu="$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0)" '
			/^voluntary_ctxt_switches/ { v = $2 }
			/^nonvoluntary_ctxt_switches/ { n = $2 }
			END { print tid, v, n, cpu }' "$t/status"
	done
}

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# report BEFORE AFTER SECONDS RSS_END RSS_MIN RSS_MAX PARTS: the numbers;
# PARTS is "RssAnon:=KIB RssFile:=KIB VmHWM:=KIB " from /proc/PID/status.
report() {
	awk -v secs="$3" -v rss="$4" -v rmin="$5" -v rmax="$6" -v parts="$7" \
		-v gover="$(go env GOVERSION) $(go env GOOS)/$(go env GOARCH)" -v cpus="$(nproc)" '
		FNR == NR { v0[$1] = $2; n0[$1] = $3; c0[$1] = $4; next }
		{
			order[++k] = $1
			dv[$1] = $2 - v0[$1]; dn[$1] = $3 - n0[$1]; dc[$1] = $4 - c0[$1]
			if (!($1 in v0)) fresh[$1] = 1
			tv += dv[$1]; tn += dn[$1]; tc += dc[$1]
		}
		END {
			printf "xpush idle, connected, %d s (Xvfb, D-Bus session bus, dunst, gnome-keyring; xpushd on loopback)\n", secs
			printf "  %s, %d CPUs; keepalive 60 s (xmpp.DefaultKeepalive)\n", gover, cpus
			printf "  RSS       %.1f MiB at the end (%.1f-%.1f MiB during the run)\n", rss / 1024, rmin / 1024, rmax / 1024
			np = split(parts, kv, " ")
			for (i = 1; i <= np; i++) { split(kv[i], f, ":="); part[f[1]] = f[2] / 1024 }
			printf "            %.1f MiB anonymous (heap, stacks), %.1f MiB file pages (the binary, libraries); peak since start %.1f MiB\n", part["RssAnon"], part["RssFile"], part["VmHWM"]
			printf "  CPU       %.3f s in %d s = %.4f %% of one core\n", tc / 1e9, secs, tc / 1e9 / secs * 100
			printf "  wake-ups  %d = %.3f/s, one per %.1f s (voluntary context switches, all threads)\n", tv, tv / secs, (tv ? secs / tv : 0)
			printf "  preempted %d (involuntary context switches)\n", tn
			printf "  per thread:   tid  wake-ups  per min  preempted  CPU ms\n"
			for (i = 1; i <= k; i++) {
				t = order[i]
				printf "             %6d  %8d  %7.2f  %9d  %6.2f%s\n", t, dv[t], dv[t] * 60 / secs, dn[t], dc[t] / 1e6, (t in fresh ? "  (new during the run)" : "")
			}
			printf "result: duration_s=%d rss_mib=%.1f rss_anon_mib=%.1f rss_file_mib=%.1f rss_max_mib=%.1f cpu_s=%.3f cpu_pct=%.4f wakeups=%d wakeups_per_s=%.3f preempted=%d threads=%d\n", secs, rss / 1024, part["RssAnon"], part["RssFile"], rmax / 1024, tc / 1e9, tc / 1e9 / secs * 100, tv, tv / secs, tn, k
		}' "$1" "$2"
}

# bursts LOG: strace -f -tt output grouped into bursts of activity (lines
# less than a second apart), one line each: the time since the first, the
# threads and syscalls, and what the burst was.
bursts() {
	awk '
		function secs(ts, p) { split(ts, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
		function flush() {
			if (!n) return
			what = ""
			if (ka) what = what "keepalive (a space written) "
			if (ping) what = what "XEP-0199 ping "
			if (rd) what = what "read from a socket "
			if (mad) what = what "GC/scavenger (madvise) "
			if (sql) what = what "SQLite "
			if (dbus) what = what "D-Bus "
			if (what == "") what = "a timer, no I/O (a write deadline expiring, sysmon) "
			sub(/ $/, "", what)
			nth = 0; for (x in th) nth++
			printf "  %8.1f s  %3d syscalls on %d threads  %s\n", start - t0, n, nth, what
			n = ka = ping = rd = mad = sql = dbus = 0; delete th
		}
		{
			t = secs($2)
			if (!started) { t0 = t; started = 1 }
			if (n && t - last > 1) flush()
			if (!n) start = t
			last = t; n++; th[$1] = 1
			if ($0 ~ /write\([0-9]+, " ", 1/) ka = 1
			if ($0 ~ /write\([0-9]+, "<iq type=\\"get\\"/) ping = 1
			if ($0 ~ /(read|recvfrom)\([0-9]+, "</) rd = 1
			if ($0 ~ /madvise\(/) mad = 1
			if ($0 ~ /fcntl\([0-9]+, F_SETLK/) sql = 1
			if ($0 ~ /(sendmsg|recvmsg)\(/) dbus = 1
		}
		END { flush() }' "$1"
}

inside_main() {
	work=$inside
	trap stop_all EXIT
	local bin=$work/bin home=$work/home d
	for d in home config data cache state run; do
		mkdir -p "$home/$d"
	done
	chmod 700 "$home/run"
	export HOME=$home/home XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data \
		XDG_CACHE_HOME=$home/cache XDG_STATE_HOME=$home/state XDG_RUNTIME_DIR=$home/run \
		LANG=en_US.UTF-8 BROWSER=true
	unset LC_ALL

	# The desktop: a keyring for the password, a notification daemon.
	background keyring sh -c 'printf pw | exec gnome-keyring-daemon --foreground --unlock --components=secrets'
	background dunst dunst
	wait_for "the keyring on the session bus" 20 bus_name org.freedesktop.secrets
	wait_for "dunst on the session bus" 20 bus_name org.freedesktop.Notifications

	# The server on loopback, plain TCP.
	background xpushd "$bin/xpushd" serve --data "$work/xpushd" --no-tls --c2s 127.0.0.1:0 --http 127.0.0.1:0
	wait_for "xpushd to serve" 20 grep -q 'serving c2s on' "$work/xpushd.log"
	local c2s
	c2s=$(sed -n 's/.*serving c2s on \([^,]*\),.*/\1/p' "$work/xpushd.log" | head -n 1)
	[[ -n $c2s ]] || die "no c2s address in the xpushd log: $(cat "$work/xpushd.log")"

	# The agent, registering its account with a generated password.
	background agent "$bin/xpush" -v --server "$c2s" --jid alice@localhost --register
	local agent=${pids[-1]}
	wait_for "the agent to be online" 30 grep -q 'agent: online' "$work/agent.log"
	echo "bench-idle: agent $agent online on $c2s; settling ${settle}s, then measuring ${duration}s" >&2
	sleep "$settle"
	kill -0 "$agent" 2>/dev/null || die "the agent exited: $(cat "$work/agent.log")"

	local rss rmin rmax left step
	rss=$(rss_kib "$agent")
	rmin=$rss rmax=$rss
	tasks "$agent" >"$work/before"
	left=$duration
	while ((left > 0)); do
		step=$((left < 60 ? left : 60))
		sleep "$step"
		left=$((left - step))
		kill -0 "$agent" 2>/dev/null || die "the agent exited: $(cat "$work/agent.log")"
		rss=$(rss_kib "$agent")
		((rss < rmin)) && rmin=$rss
		((rss > rmax)) && rmax=$rss
		echo "bench-idle: $((duration - left)) s: RSS $((rss / 1024)) MiB" >&2
	done
	tasks "$agent" >"$work/after"
	grep -q 'agent: online' "$work/agent.log" || die "the agent went offline"
	report "$work/before" "$work/after" "$duration" "$rss" "$rmin" "$rmax" \
		"$(awk '/^(RssAnon|RssFile|VmHWM):/ { printf "%s=%d ", $1, $2 }' "/proc/$agent/status")"
	if grep -qE 'agent: offline|xmpp: reconnect' "$work/agent.log"; then
		echo "note: the agent lost its connection during the run:" >&2
		grep -E 'agent: offline|xmpp: reconnect' "$work/agent.log" >&2
	fi

	if ((trace > 0)); then
		echo "bench-idle: tracing the agent for ${trace}s (strace -f)" >&2
		timeout "$trace" strace -f -tt -o "$work/strace.log" -p "$agent" 2>/dev/null || true
		echo "bursts of activity in ${trace} s of strace (what woke the agent):"
		bursts "$work/strace.log"
	fi
}

if [[ -n $inside ]]; then
	inside_main
else
	outside
fi
