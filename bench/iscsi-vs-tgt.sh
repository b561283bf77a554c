#!/usr/bin/env bash
# Side-by-side iSCSI benchmark: a Basalt LUN against tgt (Linux's user-space target) serving a
# sparse file of the same size, on this machine, with the same clients (libiscsi's iscsi-perf
# and qemu-img bench over libiscsi). Prints one line per workload with both figures and the
# ratio ours/tgt, then the geometric mean. Holds /tmp/basalt-bench.lock while it measures.
#
#   bench/iscsi-vs-tgt.sh                         # starts ./basalt demo (embedded engine) and measures it
#   bench/iscsi-vs-tgt.sh --url iscsi://127.0.0.1:3270/iqn.2026-11.io.basalt:cluster/0   # an already served LUN
#   bench/iscsi-vs-tgt.sh --url URL --size 8G --warmup 6  # --size: the LUN's size (both are filled); 6 rounds of 20,000 random 4 KiB writes first (JIT of
#                                                 # cluster nodes: docs/decisions/cluster-vs-tgt-measurements.md, "The JIT warms up for minutes")
#
# Caveat: qemu-img bench writes zeros, which a thin store keeps as nothing, so this script's write
# ratios overstate Basalt's writes (docs/performance.md, 2026-12-06: measured with random data).
# Needs: tgt (tgtd, tgtadm), libiscsi-bin (iscsi-perf), qemu-utils (qemu-img). Run as root (tgtd).
# Both LUNs are filled first so reads hit data. Workloads (like `rbd bench` / fio jobs operators run): random 4 KiB reads at 32 in flight,
# 4 KiB writes at 32 and at 1 in flight, 4 KiB reads at 1 in flight, 1 MiB writes and reads at 8.
set -euo pipefail
cd "$(dirname "$0")/.."

URL=""
WARMUP=1
SECONDS_PER_READ=15
WRITES_4K=20000
SIZE=2G
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) URL="${2:?--url needs a value}"; shift 2 ;;
    --warmup) WARMUP="${2:?--warmup needs a value}"; shift 2 ;;
    --size) SIZE="${2:?--size needs a value}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "iscsi-vs-tgt: unknown argument: $1 (expected: --url URL, --warmup ROUNDS, --size SIZE)" >&2; exit 2 ;;
  esac
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "iscsi-vs-tgt: --warmup: $WARMUP (expected: a whole number of rounds)" >&2; exit 2; }
for tool in tgtd tgtadm iscsi-perf qemu-img; do
  command -v "$tool" >/dev/null || { echo "iscsi-vs-tgt: $tool not found (apt-get install tgt libiscsi-bin qemu-utils)" >&2; exit 2; }
done

WORK="$(mktemp -d /tmp/iscsi-vs-tgt.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 2
  # tgtd does not stop on SIGTERM while it has a target: it only serves a scratch file, so kill it.
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [[ -z "$URL" ]]; then
  port="$(free_port)"
  ./basalt demo --data "$WORK/basalt" --size "$SIZE" --write 8M --portal "127.0.0.1:$port" > "$WORK/demo.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 120); do
    URL="$(grep -o "iscsi://127.0.0.1:$port/[^ ]*" "$WORK/demo.log" | head -1 || true)"
    [[ -n "$URL" ]] && break
    kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$WORK/demo.log" >&2; echo "iscsi-vs-tgt: basalt demo exited" >&2; exit 1; }
    sleep 1
  done
  [[ -n "$URL" ]] || { echo "iscsi-vs-tgt: basalt demo printed no iscsi:// URL within 120 s (log: $WORK/demo.log)" >&2; exit 1; }
fi

# tgt on its own control port and portal, serving a sparse file of the same size.
tport="$(free_port)"
ctl=$(( (tport % 200) + 20 ))
truncate -s "$SIZE" "$WORK/tgt.img"
tgtd -f -C "$ctl" --iscsi "portal=127.0.0.1:$tport" > "$WORK/tgtd.log" 2>&1 &
PIDS+=($!)
IQN="iqn.2026-11.io.basalt:tgt-reference"
for _ in $(seq 50); do tgtadm -C "$ctl" --lld iscsi --op show --mode target >/dev/null 2>&1 && break; sleep 0.2; done
tgtadm -C "$ctl" --lld iscsi --op new --mode target --tid 1 -T "$IQN"
tgtadm -C "$ctl" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$WORK/tgt.img"
tgtadm -C "$ctl" --lld iscsi --op bind --mode target --tid 1 -I ALL
TGT_URL="iscsi://127.0.0.1:$tport/$IQN/1"

# One workload on one URL: prints IOPS (4 KiB) or MB/s (1 MiB).
qemu_bench() {  # url count depth size write(0/1)
  local w=() out secs
  [[ "$5" == 1 ]] && w=(-w)
  out="$(qemu-img bench -f raw "${w[@]}" -c "$2" -d "$3" -s "$4" -S 1052672 "$1" 2>&1)" || { echo "qemu-img bench failed on $1: $out" >&2; exit 1; }
  secs="$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out")"
  [[ -n "$secs" ]] || { echo "qemu-img bench printed no time on $1: $out" >&2; exit 1; }
  if [[ "$4" == 4k ]]; then python3 -c "print(round($2/$secs))"; else python3 -c "print(round($2*1.048576/$secs))"; fi
}
perf_read() {  # url depth
  local out iops
  out="$(timeout $((SECONDS_PER_READ + 30)) iscsi-perf -r -m "$2" -b 8 -t "$SECONDS_PER_READ" "$1" 2>&1 | tr '\r' '\n')" || true
  iops="$(sed -n 's/.*iops average \([0-9]*\).*/\1/p' <<<"$out" | tail -1)"
  [[ -n "$iops" ]] || { echo "iscsi-perf printed no average on $1: $(tail -3 <<<"$out")" >&2; exit 1; }
  echo "$iops"
}
run() {  # name url
  case "$1" in
    randread-4k-qd32) perf_read "$2" 32 ;;
    write-4k-qd32) qemu_bench "$2" "$WRITES_4K" 32 4k 1 ;;
    read-4k-qd1) perf_read "$2" 1 ;;
    write-4k-qd1) qemu_bench "$2" 4000 1 4k 1 ;;
    write-1m-qd8) qemu_bench "$2" 1000 8 1M 1 ;;
    read-1m-qd8) qemu_bench "$2" 2000 8 1M 0 ;;
  esac
}

echo "ours: $URL"
echo "tgt:  $TGT_URL (sparse file, $SIZE)"
exec 9>/tmp/basalt-bench.lock
flock 9
echo "fill: every block of both LUNs written once (reads then hit data on both, not holes);"
echo "warm-up: $WARMUP round(s) of $WRITES_4K random 4 KiB writes at 32 in flight, then random reads, on both"
fill_count="$(( $(numfmt --from=iec "$SIZE") / 1048576 ))"
for u in "$URL" "$TGT_URL"; do
  qemu-img bench -f raw -w -c "$fill_count" -d 8 -s 1M "$u" >/dev/null 2>&1 || { echo "iscsi-vs-tgt: filling $u failed" >&2; exit 1; }
  for _ in $(seq "$WARMUP"); do qemu_bench "$u" "$WRITES_4K" 32 4k 1 >/dev/null; done
  perf_read "$u" 32 >/dev/null
done
echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
logsum=0
n=0
for name in randread-4k-qd32 write-4k-qd32 read-4k-qd1 write-4k-qd1 write-1m-qd8 read-1m-qd8; do
  ours="$(run "$name" "$URL")"
  ref="$(run "$name" "$TGT_URL")"
  unit=IOPS; [[ "$name" == *1m* ]] && unit=MB/s
  ratio="$(python3 -c "print(f'{$ours/$ref:.2f}')")"
  printf '%-18s ours %8s  tgt %8s %-5s ratio %s\n' "$name" "$ours" "$ref" "$unit" "$ratio"
  logsum="$(python3 -c "import math; print($logsum + math.log($ours/$ref))")"
  n=$((n + 1))
done
echo "geomean ratio ours/tgt: $(python3 -c "import math; print(f'{math.exp($logsum/$n):.2f}')") over $n workloads"
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
