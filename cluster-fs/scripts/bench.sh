#!/usr/bin/env bash
# Runs io.basalt.cluster.bench.ClusterBench: 1-replica then 3-replica ClusterVdisk, 4 KiB random
# write/read at 32 in flight after warm-up, on an in-process 3-node cluster. Extra arguments go
# to the benchmark (e.g. --warmup-s 30 --measure-s 30). Holds /tmp/basalt-bench.lock.
# BENCH_DIR_ROOT=/dev/shm puts the Raft logs and stores on tmpfs (fsync costs nothing there).
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
mvn -q -B -o compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=runtime
SIMPLE="$(ls ~/.m2/repository/org/slf4j/slf4j-simple/*/slf4j-simple-*.jar | grep -v sources | tail -1)"
CP="target/classes:$(cat target/bench.cp):$SIMPLE"
for replicas in 1 3; do
  dir="$(mktemp -d "${BENCH_DIR_ROOT:-/tmp}/cluster-bench.XXXXXX")"
  flock /tmp/basalt-bench.lock "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
    -Xmx2g -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$CP" io.basalt.cluster.bench.ClusterBench \
    --nodes 3 --replicas "$replicas" --dir "$dir" "$@"
  rm -rf "$dir"
done
