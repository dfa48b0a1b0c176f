#!/usr/bin/env bash
# A local Apache Kafka broker (KRaft, one combined broker+controller) from Maven Central artifacts.
# No Docker needed. Idempotent.
#   deploy/kafka/kafka.sh start|stop|status|fetch|logs
# Settings (environment): KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093),
#   KAFKA_DATA_DIR (<repo>/var/kafka), KAFKA_CACHE_DIR (~/.cache/distillguard/kafka),
#   KAFKA_HEAP (1g), KAFKA_START_TIMEOUT (90 seconds).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-19092}
cport=${KAFKA_CONTROLLER_PORT:-19093}
data=${KAFKA_DATA_DIR:-$repo/var/kafka}
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${KAFKA_CACHE_DIR:-$HOME/.cache/distillguard/kafka}/$version
libs=$cache/libs
pidfile=$data/kafka.pid
logfile=$data/kafka-server.log
timeout=${KAFKA_START_TIMEOUT:-90}

die() { echo "kafka.sh: $*" >&2; exit 1; }

need_tools() {
  command -v java >/dev/null 2>&1 || die "Java 17 or newer is required (none on PATH). Debian: apt-get install openjdk-17-jre-headless"
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ -n "$major" ] && [ "$major" -ge 17 ] || die "Java 17 or newer is required (found: $(java -version 2>&1 | head -n1))"
}

fetch() {
  need_tools
  if [ -f "$libs/.complete" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || die "Maven is required to fetch Kafka $version (apt-get install maven)"
  echo "kafka.sh: fetching Apache Kafka $version and its runtime dependencies into $libs" >&2
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime \
    || die "Maven could not fetch Kafka $version (is Maven Central reachable?)"
  touch "$libs/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

start() {
  fetch
  if running; then
    echo "kafka.sh: already running (pid $(cat "$pidfile")) on localhost:$port" >&2
    return 0
  fi
  if port_open; then die "port $port is in use by another process; set KAFKA_PORT"; fi
  mkdir -p "$data/logs"
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:$cport
listeners=PLAINTEXT://localhost:$port,CONTROLLER://localhost:$cport
advertised.listeners=PLAINTEXT://localhost:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/logs
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  local cp="$libs/*"
  if [ ! -f "$data/logs/meta.properties" ]; then
    local id
    id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    java -cp "$cp" -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logfile="$logfile" \
      kafka.tools.StorageTool format --standalone -t "$id" -c "$data/server.properties" >>"$logfile" 2>&1 \
      || { tail -n 30 "$logfile" >&2; die "formatting the KRaft storage failed"; }
  fi
  nohup java -Xms256m -Xmx"${KAFKA_HEAP:-1g}" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logfile="$logfile" \
    -cp "$cp" kafka.Kafka "$data/server.properties" >>"$data/kafka-stdout.log" 2>&1 &
  echo $! > "$pidfile"
  local waited=0
  until port_open; do
    if ! running; then
      tail -n 40 "$data/kafka-stdout.log" "$logfile" >&2 || true
      die "the broker exited during start-up (logs above, in $data)"
    fi
    if [ "$waited" -ge "$timeout" ]; then
      tail -n 40 "$logfile" >&2 || true
      die "the broker did not accept connections on localhost:$port within ${timeout}s"
    fi
    sleep 1; waited=$((waited + 1))
  done
  echo "kafka.sh: Kafka $version up on localhost:$port (pid $(cat "$pidfile"), data $data, log $logfile)" >&2
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "kafka.sh: not running" >&2; return 0; fi
  local pid
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "kafka.sh: stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$pidfile")) on localhost:$port"; else echo "stopped"; exit 1; fi ;;
  fetch) fetch ;;
  logs) tail -n 100 "$logfile" ;;
  reset) stop; rm -rf "$data" ;;
  *) echo "usage: $0 start|stop|status|fetch|logs|reset" >&2; exit 2 ;;
esac
