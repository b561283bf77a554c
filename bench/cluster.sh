#!/usr/bin/env bash
# The cluster benchmark: 'basalt cluster up' (3 node processes on this machine, 3 placement
# groups) with 1 then 3 replicas, and 'basalt bench --cluster' against each with its defaults
# (1 GiB vdisk, 32 in flight, 3 runs of 10 s after 5 s warm-up, median reported). Extra
# arguments go to 'basalt bench' (e.g. --seconds 20 --only randwrite,randread --pg-inflight 2).
# BENCH_DIR_ROOT=/dev/shm puts the Raft logs and stores on tmpfs (fsync costs nothing there).
set -euo pipefail
cd "$(dirname "$0")/.."
for replicas in 1 3; do
  dir="$(mktemp -d "${BENCH_DIR_ROOT:-/tmp}/cluster-bench.XXXXXX")"
  ./basalt cluster up --nodes 3 --replicas "$replicas" --pgs 3 --data "$dir" --portal 127.0.0.1:0 --size 1M >"$dir/up.log" 2>&1 &
  up=$!
  # cluster up stops its nodes on SIGTERM (a shutdown hook); its log stays for a failed start.
  trap 'kill "$up" 2>/dev/null || true; wait "$up" 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do
    grep -q '^serving ' "$dir/up.log" && break
    kill -0 "$up" 2>/dev/null || { cat "$dir/up.log"; exit 1; }
    sleep 1
  done
  grep -q '^serving ' "$dir/up.log" || { cat "$dir/up.log"; echo "cluster up: not serving after 120 s" >&2; exit 1; }
  ./basalt bench --cluster "$dir" "$@"
  kill "$up"
  wait "$up" || true
  trap - EXIT
  rm -rf "$dir"
done
