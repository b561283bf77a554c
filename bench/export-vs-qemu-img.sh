#!/usr/bin/env bash
# qcow2 export speed (issue 24): `basalt vdisk export -O qcow2` of a 1 GiB vdisk half full of random
# data (every other MiB) against `qemu-img convert -f raw -O qcow2` of the same data from a raw file,
# timed as whole processes by farm-bench, side by side. Then both images are compared.
# Usage: bench/export-vs-qemu-img.sh [WORKDIR]   (default /tmp/basalt-export-bench; about 2.5 GiB)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
B="$ROOT/basalt"
D="${1:-/tmp/basalt-export-bench}"
command -v farm-bench >/dev/null || { echo "farm-bench is needed on PATH" >&2; exit 2; }
rm -rf "$D" && mkdir -p "$D"
python3 - "$D/raw.img" <<'PY'
import os, sys
with open(sys.argv[1], 'wb') as f:
    f.truncate(1 << 30)
    for i in range(0, 1024, 2):          # every other MiB written: half full
        f.seek(i << 20); f.write(os.urandom(1 << 20))
PY
"$B" vdisk import "$D/raw.img" big -f raw --data "$D/store" >/dev/null
"$B" vdisk ls --data "$D/store" >/dev/null   # the first open after an import replays its WAL: not part of the export
farm-bench -n 5 --warmup 1 --timeout 900 \
  --vs "sh -c 'rm -f $D/q.qcow2; exec qemu-img convert -f raw -O qcow2 $D/raw.img $D/q.qcow2'" \
  -- sh -c "rm -f $D/b.qcow2; exec $B vdisk export big $D/b.qcow2 -O qcow2 --data $D/store"
qemu-img compare -f qcow2 -F qcow2 "$D/b.qcow2" "$D/q.qcow2"
