#!/usr/bin/env bash
# Runs the demo (simulator + exporter), scrapes /metrics once and lints it
# with promtool. Used by CI; needs `make build` first.
set -euo pipefail
cd "$(dirname "$0")/.."
SIM_ADDR=127.0.0.1:18480 EXPORTER_ADDR=127.0.0.1:19862 ./scripts/demo.sh >/tmp/kubiya-demo.log 2>&1 &
demo=$!
trap 'kill -TERM $demo 2>/dev/null; wait $demo 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:19862/-/healthy >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' http://127.0.0.1:19862/metrics >/tmp/kubiya-demo.prom
grep -q '^kubiya_up 1$' /tmp/kubiya-demo.prom || { echo "kubiya_up is not 1"; cat /tmp/kubiya-demo.log; exit 1; }
promtool check metrics </tmp/kubiya-demo.prom
echo "promtool check metrics: demo output OK ($(grep -c '^kubiya_job_' /tmp/kubiya-demo.prom) kubiya_job_* series)"
