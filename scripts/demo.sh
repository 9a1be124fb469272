#!/usr/bin/env bash
# Starts the API simulator and the exporter against it; Ctrl-C stops both.
# SIM_ADDR and EXPORTER_ADDR are their listen addresses (host:port); BIN_DIR
# is where the built binaries are. If an address is taken, or either process
# exits, the demo says so, stops the other and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SIM_ADDR:=127.0.0.1:8480}"
: "${EXPORTER_ADDR:=127.0.0.1:9862}"
: "${BIN_DIR:=.}"
export KUBIYA_API_KEY=demo-key
export KUBIYA_CONTROL_PLANE_BASE_URL="http://${SIM_ADDR}"

pids=()
names=()
cleanup() {
  local status=$?
  trap - EXIT
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo stopped" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "demo: $*" >&2
  exit 1
}

# taken fails if something already answers on host:port (empty host: 127.0.0.1).
taken() {
  local host=${2%:*} port=${2##*:}
  if (exec 3<>"/dev/tcp/${host:-127.0.0.1}/${port}") 2>/dev/null; then
    fail "$1 address $2 is taken by another process; set $3 to a free host:port"
  fi
}

# start name command...: runs it in the background and records its PID.
start() {
  local name=$1
  shift
  "$@" &
  pids+=($!)
  names+=("$name")
}

# await index url: waits until url answers while the process is alive.
await() {
  for _ in $(seq 1 100); do
    kill -0 "${pids[$1]}" 2>/dev/null || fail "${names[$1]} exited at start (see its log above)"
    if curl -fsS "$2" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  fail "${names[$1]} did not answer $2 within 10 s"
}

taken kubiya-simulator "$SIM_ADDR" SIM_ADDR
taken kubiya_exporter "$EXPORTER_ADDR" EXPORTER_ADDR
start kubiya-simulator "$BIN_DIR/kubiya-simulator" --web.listen-address="${SIM_ADDR}"
await 0 "http://${SIM_ADDR}/api/health"
start kubiya_exporter "$BIN_DIR/kubiya_exporter" --config.file=examples/demo.yml --web.listen-address="${EXPORTER_ADDR}"
await 1 "http://${EXPORTER_ADDR}/-/ready"
cat <<MSG

kubiya_exporter demo is running against the built-in simulator.
  Metrics:      http://${EXPORTER_ADDR}/metrics
  Landing page: http://${EXPORTER_ADDR}/
  Simulator:    http://${SIM_ADDR}/api/v1/jobs  (Authorization: Bearer demo-key)
Press Ctrl-C to stop both.

MSG
status=0
wait -n "${pids[@]}" || status=$?
for i in 0 1; do
  kill -0 "${pids[$i]}" 2>/dev/null || fail "${names[$i]} exited (status $status); stopping the demo"
done
