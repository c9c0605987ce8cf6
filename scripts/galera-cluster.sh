#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on loopback ports, in a directory of
# its own, for the Galera harness (scripts/galera-test.sh). Not for production.
#
#   galera-cluster.sh DIR start          bootstrap node 1, join nodes 2 and 3
#   galera-cluster.sh DIR kill N         SIGKILL node N
#   galera-cluster.sh DIR restart N      start node N again (it rejoins: IST or SST)
#   galera-cluster.sh DIR stop           stop every node and remove DIR
#
# Every port derives from GALERA_BASE_PORT (default 23305): node N listens
# for SQL on 127.0.0.1:BASE+N (23306..23308), for replication on BASE+10+N,
# for IST on BASE+20+N and for SST on BASE+30+N. DIR's parent must be
# traversable by `nobody` (rsync's daemon runs as nobody for a state transfer).
# The nodes run as root, with root and no password: for tests only.
# GALERA_EXTRA_CNF: more [mysqld] lines for every node (for debugging, e.g.
# "wsrep_debug=1" or "general_log=1", one per line).
set -euo pipefail

usage="usage: galera-cluster.sh DIR start|kill N|restart N|stop"
dir=${1:?$usage}
cmd=${2:?$usage}
base=${GALERA_BASE_PORT:-23305}
provider=/usr/lib/galera/libgalera_smm.so
dir=$(realpath -m "$dir")

sql_port() { echo $((base + $1)); }
gcomm_port() { echo $((base + 10 + $1)); }
ist_port() { echo $((base + 20 + $1)); }
sst_port() { echo $((base + 30 + $1)); }

# The pid of node N's mariadbd, if it runs: the pid file's process, and only
# if it is this node's server (a stale pid file may name someone else's).
node_pid() {
  local n=$1 pid
  pid=$(cat "$dir/node$n/mysqld.pid" 2>/dev/null) || return 1
  [[ -n $pid ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null \
    | grep -q -- "--defaults-file=$dir/node$n.cnf" && echo "$pid"
}

# SIGKILLs node N and waits until it is gone.
kill_node() {
  local n=$1 pid
  pid=$(node_pid "$n") || return 0
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$dir/node$n/mysqld.pid"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_config() {
  local n=$1
  cat > "$dir/node$n.cnf" <<CNF
[mysqld]
datadir=$dir/node$n/data
socket=$dir/node$n/mysqld.sock
pid-file=$dir/node$n/mysqld.pid
log-error=$dir/node$n/error.log
bind-address=127.0.0.1
port=$(sql_port "$n")
user=root
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=minilvb-test
wsrep_cluster_address=gcomm://127.0.0.1:$(gcomm_port 1),127.0.0.1:$(gcomm_port 2),127.0.0.1:$(gcomm_port 3)
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(gcomm_port "$n")
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=64M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(sst_port "$n")
wsrep_slave_threads=2
${GALERA_EXTRA_CNF:-}
CNF
}

wait_ready() {
  local n=$1
  for _ in $(seq 1 240); do
    if mariadb --protocol=tcp -h127.0.0.1 -P"$(sql_port "$n")" -uroot -N \
        -e "SHOW STATUS LIKE 'wsrep_ready'" 2>/dev/null | grep -q ON; then
      return 0
    fi
    sleep 0.5
  done
  echo "galera node $n did not become ready; its log:" >&2
  tail -40 "$dir/node$n/error.log" >&2 || true
  return 1
}

start_node() {
  local n=$1; shift
  mariadbd --defaults-file="$dir/node$n.cnf" "$@" >>"$dir/node$n/stdout.log" 2>&1 &
  echo $! > "$dir/node$n/launcher.pid"
}

case $cmd in
  start)
    for n in 1 2 3; do
      for port in $(sql_port "$n") $(gcomm_port "$n") $(ist_port "$n") $(sst_port "$n"); do
        port_free "$port" || { echo "port $port is in use (another cluster? set GALERA_BASE_PORT)" >&2; exit 1; }
      done
    done
    mkdir -p "$dir"
    for n in 1 2 3; do
      mkdir -p "$dir/node$n"
      node_config "$n"
    done
    # One node's data, copied to the others after a clean stop: all three
    # then share the cluster's history and join without a state transfer.
    mkdir -p "$dir/node1/data"
    mariadb-install-db --defaults-file="$dir/node1.cnf" --auth-root-authentication-method=normal \
      --skip-test-db >"$dir/node1/install.log" 2>&1
    start_node 1 --wsrep-new-cluster
    wait_ready 1
    mariadb --protocol=tcp -h127.0.0.1 -P"$(sql_port 1)" -uroot \
      -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" 2>/dev/null || true
    kill -TERM "$(cat "$dir/node1/mysqld.pid")"
    for _ in $(seq 1 120); do [[ -f $dir/node1/mysqld.pid ]] || break; sleep 0.5; done
    for n in 2 3; do
      cp -a "$dir/node1/data" "$dir/node$n/data"
      sed -i 's/^safe_to_bootstrap: 1/safe_to_bootstrap: 0/' "$dir/node$n/data/grastate.dat"
    done
    start_node 1 --wsrep-new-cluster
    wait_ready 1
    # A state transfer (rsync) writes as the unprivileged user that rsync's
    # daemon switches to when run as root: give it the joiners' directories
    # (mariadbd itself runs as root here and reads them all the same).
    chmod o+x "$(dirname "$dir")" "$dir"
    chown -R nobody "$dir/node2" "$dir/node3"
    for n in 2 3; do
      start_node "$n"
      wait_ready "$n"
    done
    echo "galera cluster up on ports $(sql_port 1) $(sql_port 2) $(sql_port 3)"
    ;;
  kill)
    n=${3:?node number}
    node_pid "$n" >/dev/null || { echo "galera node $n is not running" >&2; exit 1; }
    kill_node "$n"
    echo "galera node $n killed"
    ;;
  restart)
    n=${3:?node number}
    chown -R nobody "$dir/node$n"
    # After a SIGKILL the node does not know its position: recover it from
    # InnoDB, as the distribution's service does, so that it can catch up
    # from a peer's cache (IST) instead of copying everything (SST).
    mariadbd --defaults-file="$dir/node$n.cnf" --wsrep-recover \
      --log-error="$dir/node$n/recover.log" >/dev/null 2>&1 || true
    position=$(grep -o 'Recovered position: [^ ]*' "$dir/node$n/recover.log" | tail -1 | cut -d' ' -f3)
    if [[ -n $position ]]; then
      start_node "$n" --wsrep-start-position="$position"
    else
      start_node "$n"
    fi
    wait_ready "$n"
    echo "galera node $n rejoined"
    ;;
  stop)
    for n in 1 2 3; do
      kill_node "$n"
    done
    rm -rf "$dir"
    ;;
  *)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
