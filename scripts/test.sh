#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh
# Debian machine (redis-server, chromium, wrk, nginx-light) when it is
# missing, then runs every module's tests with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v chromium >/dev/null || need+=(chromium)
command -v wrk >/dev/null || need+=(wrk)
# nginx lives in /usr/sbin, which a non-root PATH may lack.
have_nginx() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }
have_nginx || need+=(nginx-light)
if ((${#need[@]})); then
	if [ "$(id -u)" = 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq "${need[@]}" >/dev/null
	else
		echo "test.sh: missing ${need[*]}; tests that need them will skip (run as root to install)" >&2
	fi
fi

# With redis-server installed, the Redis tests are required, not skipped.
if command -v redis-server >/dev/null; then export SEALEDSESSION_REQUIRE_REDIS=1; fi
if command -v chromium >/dev/null; then export SEALEDSESSION_REQUIRE_CHROMIUM=1; fi
if have_nginx; then export SEALEDSESSION_REQUIRE_NGINX=1; fi

go test -race -timeout 20m "$@" ./... ./bench/... ./metrics/prometheus/... ./metrics/otel/... ./frameworks/... ./frameworks/ginsession/... ./browsertest/...
