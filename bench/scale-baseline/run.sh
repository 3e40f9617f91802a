#!/usr/bin/env bash
# Scale baseline of the first version (the mirror design, commit c02bc3f),
# issue 15: extracts that commit's tree into a temporary directory, copies
# the two harness files kept here (*.go.txt, not compiled in main) into its
# versioning/redisstore and versioning/boltstore, runs them against the old
# code's public API and prints one table. Manual benchmark, not run by CI.
#
#   bench/scale-baseline/run.sh                 # N = 100000 and 1000000
#   BASELINE_NS=100000 bench/scale-baseline/run.sh
#
# Environment: BASELINE_REV (default c02bc3f), BASELINE_NS (space-separated
# sizes), BASELINE_REPS (repeats of the timed measures, default 3),
# BASELINE_CAP_S (wait cap for the ReadTimeout 1 s instance, default 25),
# BASELINE_BOLT_N (cap on the boltstore churn size, default 100000: every
# Revoke there is a synced transaction), BASELINE_KEEP=1 keeps the extracted tree and logs.
# Needs git (with history), go and redis-server in PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
rev=${BASELINE_REV:-c02bc3f}
ns=${BASELINE_NS:-100000 1000000}
reps=${BASELINE_REPS:-3}
caps=${BASELINE_CAP_S:-25}
boltn=${BASELINE_BOLT_N:-100000}

for tool in git go redis-server; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found in PATH" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sealedsession-baseline.XXXXXX")
cleanup() {
	if [ "${BASELINE_KEEP:-}" = 1 ]; then
		echo "kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

tree=$tmp/tree
mkdir -p "$tree"
git -C "$root" archive "$rev" | tar -x -C "$tree"
cp "$here/redis_baseline_test.go.txt" "$tree/versioning/redisstore/zz_baseline_redis_test.go"
cp "$here/local_baseline_test.go.txt" "$tree/versioning/boltstore/zz_baseline_local_test.go"
# The helpers both harness files use, in each one's package.
sed 's/^package baseline_test$/package redisstore_test/' "$here/common_baseline_test.go.txt" >"$tree/versioning/redisstore/zz_baseline_common_test.go"
sed 's/^package baseline_test$/package boltstore_test/' "$here/common_baseline_test.go.txt" >"$tree/versioning/boltstore/zz_baseline_common_test.go"

# The old tree is its own module; its go.work would pull in modules the
# harness does not need.
export GOWORK=off
results=$tmp/results.tsv
: >"$results"
(
	cd "$tree"
	for n in $ns; do
		echo "== $rev: redisstore, N=$n" >&2
		SEALEDSESSION_BASELINE_N=$n SEALEDSESSION_BASELINE_REPS=$reps SEALEDSESSION_BASELINE_CAP_S=$caps \
			go test -count=1 -run '^TestBaselineRedis$' -v -timeout 60m ./versioning/redisstore/ \
			| tee "$tmp/redis-$n.log" | grep $'^RESULT\t' | sed "s/^RESULT\t/$n\tredisstore\t/" >>"$results"
		echo "== $rev: memstore (N=$n), boltstore churn (N=$(( boltn < n ? boltn : n ))) and file (N=$n)" >&2
		SEALEDSESSION_BASELINE_N=$n SEALEDSESSION_BASELINE_BOLT_N=$(( boltn < n ? boltn : n )) SEALEDSESSION_BASELINE_BOLTFILE_N=$n \
			go test -count=1 -run '^TestBaselineLocal$' -v -timeout 60m ./versioning/boltstore/ \
			| tee "$tmp/local-$n.log" | grep $'^RESULT\t' | sed "s/^RESULT\t/$n\tlocal\t/" >>"$results"
	done
)

echo
echo "Scale baseline at $rev ($(git -C "$root" rev-parse --short "$rev")), $(go version | cut -d' ' -f3), $(redis-server --version | cut -d' ' -f3), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| N | store | measure | value |"
echo "| ---: | --- | --- | --- |"
while IFS=$'\t' read -r n store name value; do
	printf '| %s | %s | %s | %s |\n' "$n" "$store" "$name" "${value//|/\\|}"
done <"$results"
