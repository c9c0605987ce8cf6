#!/usr/bin/env bash
# The Galera harness (run by .ci/run): bootstraps a three-node MariaDB
# Galera cluster on loopback ports in a temporary directory, then runs the
# integration tests `galera::*` against it. They start three minilvb nodes,
# one per database node, drive likes, enters, quits and stream callbacks
# across them, SIGKILL database node 3 mid-run (through galera-cluster.sh),
# bring it back, and check every count exactly. The cluster and its
# directory are removed however the run ends.
#
#   scripts/galera-test.sh [TEST FILTER]     (default galera::, every Galera test)
#
# GALERA_BASE_PORT moves the cluster's ports (default 23305: SQL on
# 23306..23308; see galera-cluster.sh). GALERA_KEEP_LOGS=DIR keeps the
# nodes' logs (error logs, and general logs if GALERA_EXTRA_CNF asked for
# them) in DIR when the tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [[ ! -e /usr/lib/galera/libgalera_smm.so ]]; then
    echo "galera-test: installing galera-4"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q galera-4 || { apt-get update -q && apt-get install -y -q galera-4; }
fi
for tool in mariadbd mariadb-install-db rsync; do
    command -v "$tool" >/dev/null || {
        echo "galera-test: $tool is missing (packages mariadb-server, rsync)" >&2
        exit 1
    }
done

# The cluster's directory: its parent must be traversable by `nobody`.
work=$(mktemp -d "${TMPDIR:-/tmp}/minilvb-galera.XXXXXX")
chmod 755 "$work"
cluster=$work/cluster
cleanup() {
    local status=$?
    if [[ $status -ne 0 && -n ${GALERA_KEEP_LOGS:-} && -d $cluster ]]; then
        mkdir -p "$GALERA_KEEP_LOGS"
        for node in "$cluster"/node[123]; do
            [[ -d $node ]] || continue
            mkdir -p "$GALERA_KEEP_LOGS/${node##*/}"
            cp "$node"/*.log "$node"/data/*.log "$node"/data/*-bin.[0-9]* "$GALERA_KEEP_LOGS/${node##*/}/" 2>/dev/null || true
        done
        echo "galera-test: the nodes' logs are in $GALERA_KEEP_LOGS"
    fi
    scripts/galera-cluster.sh "$cluster" stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/galera-cluster.sh "$cluster" start
echo "galera-test: cluster up after $((SECONDS - started)) s"

base=${GALERA_BASE_PORT:-23305}
export MINILVB_TEST_GALERA_DIR=$cluster
export MINILVB_TEST_GALERA_URLS="mysql://root@127.0.0.1:$((base + 1)),mysql://root@127.0.0.1:$((base + 2)),mysql://root@127.0.0.1:$((base + 3))"
# One test at a time: each one loads the whole cluster, and one kills a node.
cargo test -p minilvb --test integration "${1:-galera::}" -- --test-threads=1 --nocapture
echo "galera-test: passed in $((SECONDS - started)) s"
