#!/usr/bin/env bash
# Starts the API simulator and the exporter against it; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SIM_ADDR:=127.0.0.1:8480}"
: "${EXPORTER_ADDR:=127.0.0.1:9862}"
export KUBIYA_API_KEY=demo-key
export KUBIYA_CONTROL_PLANE_BASE_URL="http://${SIM_ADDR}"

pids=()
cleanup() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo stopped"
}
trap cleanup INT TERM EXIT

./kubiya-simulator --web.listen-address="${SIM_ADDR}" &
pids+=($!)
./kubiya_exporter --config.file=examples/demo.yml --web.listen-address="${EXPORTER_ADDR}" &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://${EXPORTER_ADDR}/-/healthy" >/dev/null 2>&1 && break
  sleep 0.1
done
cat <<MSG

kubiya_exporter demo is running against the built-in simulator.
  Metrics:      http://${EXPORTER_ADDR}/metrics
  Landing page: http://${EXPORTER_ADDR}/
  Simulator:    http://${SIM_ADDR}/api/v1/jobs  (Authorization: Bearer demo-key)
Press Ctrl-C to stop both.

MSG
wait
