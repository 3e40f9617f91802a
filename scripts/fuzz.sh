#!/usr/bin/env bash
# Runs every native Go fuzz target of the main module in turn, each for the
# same bounded time. CI calls it with a short time; run it longer by hand.
#
#   scripts/fuzz.sh [-t DURATION] [-p PARALLEL] [-l] [REGEXP]
#
#   -t DURATION  -fuzztime per target (default 10s; e.g. 5m, or 100000x)
#   -p N         fuzzing workers per target (default: go's, GOMAXPROCS)
#   -l           only list the targets (package and name) and exit
#   REGEXP       only run targets whose name matches (grep -E)
#
# Targets are discovered from the *_test.go files (func FuzzX(f *testing.F)),
# so a new target is picked up without editing this script. A crasher makes
# go test write testdata/fuzz/FuzzX/<hash> in the package: commit it, it
# becomes a regression case of the ordinary test run. The script stops at the
# first failing target and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=10s
parallel=
list=0
while getopts "t:p:lh" opt; do
	case $opt in
	t) fuzztime=$OPTARG ;;
	p) parallel=$OPTARG ;;
	l) list=1 ;;
	*) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
filter=${1:-.}

# "pkgdir FuzzName" lines; the nested modules (bench, metrics) have no
# decoders of client bytes and are not in this module's package patterns.
targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . \
	| grep -v -e '^\./bench/' -e '^\./metrics/' \
	| sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+).*#\1 \2#' | sort -u)
targets=$(echo "$targets" | awk -v re="$filter" '$2 ~ re')
if [ -z "$targets" ]; then echo "fuzz.sh: no fuzz target matches $filter" >&2; exit 1; fi

if [ "$list" = 1 ]; then echo "$targets"; exit 0; fi

# retry_time multiplies a duration like 4s or 2m (or a count like 1000x) by 4.
retry_time() {
	local t=$1
	if [[ $t =~ ^([0-9]+)(s|m|h|x)$ ]]; then
		echo "$((BASH_REMATCH[1] * 4))${BASH_REMATCH[2]}"
	else
		echo "$t"
	fi
}

args=(-run '^$' -fuzztime "$fuzztime")
if [ -n "$parallel" ]; then args+=(-parallel "$parallel"); fi
n=$(echo "$targets" | wc -l)
i=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while read -r dir name; do
	i=$((i + 1))
	echo "== [$i/$n] $name in $dir (-fuzztime $fuzztime)"
	rc=0
	go test "${args[@]}" -fuzz "^${name}\$" "$dir" >"$log" 2>&1 || rc=$?
	# Go's fuzzer can stop with "context deadline exceeded" and no crasher
	# when -fuzztime runs out while it is still measuring the seed corpus's
	# coverage (short CI times, slow targets). That is not a finding: run
	# the target once more with four times the time.
	if [ "$rc" != 0 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
		echo "   (fuzzer ran out of time before fuzzing; retrying with 4x the time)"
		rc=0
		go test -run '^$' -fuzztime "$(retry_time "$fuzztime")" ${parallel:+-parallel "$parallel"} -fuzz "^${name}\$" "$dir" >"$log" 2>&1 || rc=$?
	fi
	# Hide the per-3s progress lines but keep the last one (total execs).
	grep -v -E '^fuzz: elapsed: ' "$log" || true
	grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true
	if [ "$rc" != 0 ]; then
		echo "fuzz.sh: $name in $dir FAILED; the crasher is under $dir/testdata/fuzz/$name/" >&2
		exit 1
	fi
done <<<"$targets"
echo "== fuzz.sh: $n targets, ${SECONDS}s wall time in all"
