#!/usr/bin/env bash
# Three demo instances sharing one Redis, on loopback:
#   1. log in as alice on the first instance,
#   2. press "log out everywhere" on the second,
#   3. the third refuses the old cookie.
# Every step is printed. Everything started here is stopped on exit.
#
# Needs go, curl and redis-server. Run from anywhere:
#   scripts/multi-instance.sh
# Environment: REDIS_PORT (default: a free port), KEEP_LOGS=1 to print the
# demo logs at the end. Exit status 0 when the third instance refused the
# cookie, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in go curl redis-server; do
	if ! command -v "$tool" >/dev/null; then
		echo "multi-instance: $tool not found in PATH (apt-get install redis-server curl)" >&2
		exit 1
	fi
done

work=$(mktemp -d)
pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "${KEEP_LOGS:-}" = 1 ] || [ "$status" != 0 ]; then
		for f in "$work"/demo*.log; do
			[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
		done
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n==> %s\n' "$*"; }

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# redis_ping PORT: the server answers PING with PONG.
redis_ping() {
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'PING\r\n' >&3
	read -r -t 1 reply <&3 || true
	exec 3>&-
	[ "${reply%$'\r'}" = "+PONG" ]
}

step "build the demo and make one key ring for all three instances"
go build -o "$work/demo" ./cmd/demo
SESSION_KEYS=$(go run ./cmd/sealctl keygen 2>/dev/null)
export SESSION_KEYS
echo "SESSION_KEYS set (one key; the same ring on every instance)"

# pick_port: a random loopback port nothing listens on now.
pick_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		port_free "$p" && { echo "$p"; return; }
	done
	echo "$p"
}

# Start redis-server; if it cannot bind (another process took the port in
# the meantime, as parallel tests do) try another port, three times.
started=0
for attempt in 1 2 3; do
	port=${REDIS_PORT:-$(pick_port)}
	step "start redis-server on 127.0.0.1:$port"
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$work" --logfile "$work/redis.log" &
	rpid=$!
	for _ in $(seq 400); do
		redis_ping "$port" 2>/dev/null && { started=1; break; }
		kill -0 "$rpid" 2>/dev/null || break # it exited: port taken?
		sleep 0.05
	done
	if [ "$started" = 1 ]; then
		pids+=("$rpid")
		break
	fi
	kill "$rpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true
	echo "redis-server did not answer on port $port (attempt $attempt):" >&2
	tail -n 3 "$work/redis.log" >&2 2>/dev/null || true
	[ -n "${REDIS_PORT:-}" ] && break
done
[ "$started" = 1 ] || { echo "redis-server could not be started" >&2; exit 1; }
echo "redis answers PONG"

urls=()
for i in 1 2 3; do
	mkdir -p "$work/data$i"
	"$work/demo" -addr 127.0.0.1:0 -store "redis://127.0.0.1:$port/0" -data "$work/data$i" \
		2>"$work/demo$i.log" &
	pids+=($!)
done
for i in 1 2 3; do
	url=""
	for _ in $(seq 200); do
		url=$(sed -n 's/.*msg=listening url=\(http:\/\/127\.0\.0\.1:[0-9]*\)\/.*/\1/p' "$work/demo$i.log" | head -n1)
		[ -n "$url" ] && break
		sleep 0.05
	done
	[ -n "$url" ] || { echo "demo $i did not start" >&2; exit 1; }
	urls+=("$url")
done
step "three demo instances on one Redis: ${urls[*]}"

# authenticated URL COOKIE: prints the "authenticated" field of /api/session.
authenticated() {
	curl -sS -H "Cookie: $2" "$1/api/session" | sed -n 's/.*"authenticated": *\([a-z]*\).*/\1/p'
}

step "log in as alice on instance 1 (${urls[0]})"
# The Cookie header is built by hand from the Set-Cookie lines rather than
# kept in a curl cookie jar: log out everywhere clears the cookie, and a
# jar would then drop it, while the point is to replay the old one. (curl
# 7.79 and later would send these Secure, __Host- cookies to
# http://127.0.0.1, which counts as a secure origin; older curl would not.)
status=$(curl -sS -o /dev/null -D "$work/login.headers" -w '%{http_code}' \
	--data 'user=alice&password=correct-horse-alice' "${urls[0]}/login")
cookie=$(tr -d '\r' <"$work/login.headers" | sed -n 's/^[Ss]et-[Cc]ookie: \(__Host-session[^;]*=[^;]\{1,\}\);.*/\1/p' | paste -sd ';' - | sed 's/;/; /g')
[ "$status" = 303 ] && [ -n "$cookie" ] || { echo "login failed: HTTP $status" >&2; exit 1; }
echo "HTTP $status, got ${#cookie} bytes of session cookie"
for i in 0 1 2; do
	echo "instance $((i + 1)) /api/session: authenticated=$(authenticated "${urls[$i]}" "$cookie")"
done

step "log out everywhere on instance 2 (${urls[1]})"
status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" -X POST "${urls[1]}/logout-everywhere")
[ "$status" = 303 ] || { echo "log out everywhere failed: HTTP $status" >&2; exit 1; }
echo "HTTP $status: alice's epoch was bumped in Redis and announced on the channel"

step "instance 3 (${urls[2]}) with alice's old cookie"
start=$(date +%s%N)
result=""
tries=0
# The bump travels by pub/sub; allow up to 2 s, and say how long it took.
for _ in $(seq 40); do
	tries=$((tries + 1))
	result=$(authenticated "${urls[2]}" "$cookie")
	[ "$result" = false ] && break
	sleep 0.05
done
elapsed=$((($(date +%s%N) - start) / 1000000))
echo "instance 3 /api/session: authenticated=$result (request $tries, ${elapsed} ms after the logout returned)"
echo "instance 1 /api/session: authenticated=$(authenticated "${urls[0]}" "$cookie")"
if [ "$result" != false ]; then
	echo "FAIL: instance 3 still accepts the cookie" >&2
	exit 1
fi
echo
echo "OK: logged in on 1, logged out everywhere on 2, refused on 3"
