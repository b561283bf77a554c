#!/usr/bin/env bash
# The engine benchmark of issue 2: 1 GiB vdisk, in-process, 3 runs of 10 s after 5 s warm-up,
# median reported. Extra arguments go to 'basalt bench' (e.g. --grain-size 64K, --only randwrite).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./basalt bench --size 1G --inflight 32 --runs 3 --seconds 10 --warmup 5 "$@"
