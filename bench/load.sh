#!/usr/bin/env bash
# Load test: a hello-world server three ways (bare, wrapped by sealedsession,
# reading a gorilla/sessions session) on loopback, each driven by wrk for a
# bounded time with the session cookie sent on every request. Prints
# requests/s and the ratio to bare, "load: <mode> <req/s>" (median) and
# "load-round: <round> <mode> <req/s>" lines for tools (bench/cmd/report
# -load), and stops every server it started.
#
# wrk and the server share the machine's cores, so one run is noisy: the
# servers are run ROUNDS times in turn (bare, sealedsession, gorilla, bare,
# ...) and the median of each is reported.
#
#   bench/load.sh                 # 3 rounds of 10 s per server, 50 connections, 2 threads
#   ROUNDS=1 DURATION=5s CONNS=20 bench/load.sh
set -euo pipefail
cd "$(dirname "$0")"

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
MODES=${MODES:-"bare sealedsession gorilla"}
ROUNDS=${ROUNDS:-3}

if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null
	else
		echo "load.sh: wrk is not installed (apt-get install wrk)" >&2
		exit 1
	fi
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

go build -o "$tmp/helloserver" ./cmd/helloserver
# Every request carries a browser's User-Agent, as real traffic does (the
# session's client binding hashes it); the session logged in with it.
ua=$("$tmp/helloserver" -print-user-agent)

declare -A runs
for round in $(seq "$ROUNDS"); do
for mode in $MODES; do
	cookie_file="$tmp/cookie.$mode"
	rm -f "$cookie_file"
	# -lifetime bounds the server even if this script is killed hard.
	"$tmp/helloserver" -mode "$mode" -addr "127.0.0.1:$PORT" -cookie-file "$cookie_file" -lifetime 5m 2>"$tmp/server.$mode.log" &
	pid=$!
	for _ in $(seq 100); do
		[ -e "$cookie_file" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.$mode.log" >&2; exit 1; }
		sleep 0.05
	done
	[ -e "$cookie_file" ] || { echo "load.sh: $mode server did not start" >&2; exit 1; }
	# The bare server ignores its cookie (a sealedsession one, so that the
	# requests are alike).
	cookie=$(cat "$cookie_file")
	args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s -H "Cookie: $cookie" -H "User-Agent: $ua")
	wrk "${args[@]}" "http://127.0.0.1:$PORT/" >"$tmp/wrk.$mode"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	if grep -q "Non-2xx" "$tmp/wrk.$mode"; then
		echo "load.sh: $mode answered non-2xx responses (session not accepted?):" >&2
		cat "$tmp/wrk.$mode" >&2
		exit 1
	fi
	r=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.$mode")
	echo "round $round: $mode $r req/s" >&2
	echo "load-round: $round $mode $r"
	runs[$mode]="${runs[$mode]:-} $r"
done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A rps
for mode in $MODES; do
	rps[$mode]=$(echo "${runs[$mode]}" | median)
done

echo "median of $ROUNDS rounds, wrk -t$THREADS -c$CONNS -d$DURATION:"
printf '%-15s %12s %9s\n' server "requests/s" "of bare"
for mode in $MODES; do
	ratio="-"
	if [ -n "${rps[bare]:-}" ]; then
		ratio=$(awk -v a="${rps[$mode]}" -v b="${rps[bare]}" 'BEGIN { printf "%.1f%%", a / b * 100 }')
	fi
	printf '%-15s %12s %9s\n' "$mode" "${rps[$mode]}" "$ratio"
done
for mode in $MODES; do
	echo "load: $mode ${rps[$mode]}"
done
