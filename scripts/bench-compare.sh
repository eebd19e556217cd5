#!/usr/bin/env bash
# Compares seedlog with franz-go's kfake (fsync on) using `seedlog bench`, the runs of
# each system alternating in one session so that both see the same machine:
#   kfake --sync (1 broker), seedlog RF1 and RF3 (a 3-broker dev cluster),
# all with 1 KiB records, acks=all, one partition, snappy-compressed (franz-go's
# default) and uncompressed; then each at a fixed 20 MB/s for latency. Prints every run and the medians and ratios at the end.
# Usage: scripts/bench-compare.sh [rounds] [duration]    (defaults: 3 rounds of 10s)
set -euo pipefail
rounds=${1:-3}
duration=${2:-10s}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/seedlog-bench-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building seedlog and the kfake runner in $work"
(cd "$root" && go build -o "$work/seedlog" ./cmd/seedlog)
(cd "$root/tools/kfake" && go build -o "$work/kfake" .)

# start LOG CMD... : runs CMD in the background (recording its pid for cleanup).
start() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
}

# bootstrap LOG : waits for the address a server printed after "bootstrap: ".
bootstrap() {
  for _ in $(seq 100); do
    if grep -q '^bootstrap: ' "$1"; then
      grep '^bootstrap: ' "$1" | head -1 | cut -d' ' -f2
      return
    fi
    sleep 0.1
  done
  echo "no bootstrap address in $1:" >&2
  cat "$1" >&2
  exit 1
}

start "$work/dev.log" "$work/seedlog" dev --brokers 3 --port 0 --data "$work/dev"
start "$work/kfake.log" "$work/kfake" --sync --data "$work/kfake-data"
seedlog_addr=$(bootstrap "$work/dev.log")
kfake_addr=$(bootstrap "$work/kfake.log")
sleep 3 # let the dev cluster elect its controller and register its brokers

results="$work/results"
: >"$results"
# run NAME ADDR ARGS... : one bench run, its output shown and summarized in $results.
run() {
  local name=$1 addr=$2; shift 2
  echo "== $name"
  local out
  out=$("$work/seedlog" bench -b "$addr" --record-size 1024 --acks all --partitions 1 --duration "$duration" "$@")
  echo "$out"
  local mbs p50 p99
  mbs=$(echo "$out" | sed -n 's/^throughput: .* records\/s, \([0-9.]*\) MB\/s$/\1/p')
  p50=$(echo "$out" | sed -n 's/.* p50 \([^ ]*\) .*/\1/p')
  p99=$(echo "$out" | sed -n 's/.* p99 \([^ ]*\) .*/\1/p')
  echo "$name $mbs $p50 $p99" >>"$results"
}

for r in $(seq "$rounds"); do
  echo "#### round $r of $rounds"
  for codec in snappy none; do
    run "kfake-sync-$codec" "$kfake_addr" --replication-factor 1 --compression $codec
    run "seedlog-rf1-$codec" "$seedlog_addr" --replication-factor 1 --compression $codec
    run "seedlog-rf3-$codec" "$seedlog_addr" --replication-factor 3 --compression $codec
  done
done
echo "#### fixed 20 MB/s"
run kfake-sync-20MBps "$kfake_addr" --replication-factor 1 --rate-mb 20
run seedlog-rf1-20MBps "$seedlog_addr" --replication-factor 1 --rate-mb 20
run seedlog-rf3-20MBps "$seedlog_addr" --replication-factor 3 --rate-mb 20

echo
echo "#### summary (MB/s medians over $rounds rounds; latencies p50/p99 from the intended send time)"
median() { grep "^$1 " "$results" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for codec in snappy none; do
  k=$(median "kfake-sync-$codec"); s1=$(median "seedlog-rf1-$codec"); s3=$(median "seedlog-rf3-$codec")
  echo "-- producer compression: $codec"
  echo "kfake with fsync:  $k MB/s"
  echo "seedlog RF1:       $s1 MB/s  ($(awk -v a="$s1" -v b="$k" 'BEGIN{printf "%.2f", a/b}')x kfake; goal >= 1.2x)"
  echo "seedlog RF3:       $s3 MB/s  ($(awk -v a="$s3" -v b="$s1" 'BEGIN{printf "%.2f", a/b}')x seedlog RF1; goal >= 0.4x)"
done
grep -- '-20MBps ' "$results" | awk '{printf "%-20s %s MB/s  p50 %s  p99 %s\n", $1, $2, $3, $4}'
echo "(goals at 20 MB/s: p99 <= 2ms for RF1, <= 4ms for RF3)"
