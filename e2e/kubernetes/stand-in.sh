# What kwok pods can not be: a real FE and a Kafka broker for the operator to talk to. kwok
# simulates pods without running them, so a local `cairn allin1` stands in for the cluster's
# FE (the operator reaches it through --fe-address-override) and a real broker feeds the
# Routine Load job the operator creates.
#
# Source it (after control-plane.sh, for free_port), then:
#   stand_in_start_kafka WORKDIR VENV TOPIC   starts a broker and sources its broker.env
#                                            (KAFKA_BOOTSTRAP); producing three JSON
#                                            messages creates TOPIC
#   stand_in_start_frontend CAIRN_BIN WORKDIR  starts allin1 on STAND_IN_QUERY_PORT (chosen
#                                            here unless already set)
#   stand_in_sql STATEMENT                   runs SQL as root (STAND_IN_ROOT_PASSWORD, once the
#                                            operator has set it)
#   stand_in_stop                            stops both
# shellcheck shell=bash

STAND_IN_FRONTEND_PID=""
STAND_IN_KAFKA_WORK=""
STAND_IN_ROOT_PASSWORD=""
stand_in_repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

stand_in_start_kafka() {
  local work="$1" venv="$2" topic="$3"
  STAND_IN_KAFKA_WORK="${work}"
  bash "${stand_in_repository}/e2e/tools/kafka.sh" install >/dev/null
  bash "${stand_in_repository}/e2e/tools/kafka.sh" start "${work}" >/dev/null
  # shellcheck disable=SC1091 # written by kafka.sh start
  source "${work}/broker.env"
  # Producing creates the topic; jobs that start from the beginning read these messages.
  "${venv}/bin/python" - "${KAFKA_BOOTSTRAP}" "${topic}" <<'EOF'
import json, sys
from confluent_kafka import Producer
producer = Producer({"bootstrap.servers": sys.argv[1]})
for second in range(3):
    producer.produce(sys.argv[2], json.dumps({"ts": f"2026-11-21 10:00:0{second}", "url": f"/page/{second}"}))
if producer.flush(30):
    sys.exit("messages were not delivered")
EOF
}

stand_in_start_frontend() {
  local cairn_bin="$1" work="$2"
  # stand_in_sql needs the mysql CLI; apt.sh installs it when missing and is quick otherwise.
  bash "${stand_in_repository}/e2e/tools/apt.sh" >/dev/null
  STAND_IN_QUERY_PORT="${STAND_IN_QUERY_PORT:-$(free_port)}"
  "${cairn_bin}" allin1 --data-dir "${work}/cairn" --query-port "${STAND_IN_QUERY_PORT}" --http-port "$(free_port)" \
    --be-http-port "$(free_port)" --rpc-port "$(free_port)" --edit-log-port "$(free_port)" --be-port "$(free_port)" \
    >> "${work}/logs/cairn.log" 2>&1 &
  STAND_IN_FRONTEND_PID=$!
  echo "${STAND_IN_FRONTEND_PID}" >> "${work}/pids"
}

stand_in_sql() {
  mysql -h 127.0.0.1 -P "${STAND_IN_QUERY_PORT}" -u root ${STAND_IN_ROOT_PASSWORD:+-p"${STAND_IN_ROOT_PASSWORD}"} \
    --batch --skip-column-names -e "$1"
}

stand_in_stop() {
  if [ -n "${STAND_IN_FRONTEND_PID}" ]; then
    kill "${STAND_IN_FRONTEND_PID}" 2>/dev/null || true
    wait "${STAND_IN_FRONTEND_PID}" 2>/dev/null || true
    STAND_IN_FRONTEND_PID=""
  fi
  if [ -n "${STAND_IN_KAFKA_WORK}" ]; then
    bash "${stand_in_repository}/e2e/tools/kafka.sh" stop "${STAND_IN_KAFKA_WORK}" >/dev/null 2>&1 || true
    STAND_IN_KAFKA_WORK=""
  fi
}
