#!/usr/bin/env bash
# Builds the image on scratch with buildah (nothing to pull) and runs it with
# podman the way README's "Deploying" says: configuration and API key
# mounted read-only from a host directory, as UID 65532. Scrapes kubiya_up 1
# from it (against the simulator on the host), checks --version and that
# flags given to `podman run` keep the entrypoint's --config.file, stops it.
# Needs `make build`, buildah, podman and runc (Debian's), and root. CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=localhost/kubiya_exporter:image-test
NAME=kubiya-exporter-image-test-$$
# runc and cgroupfs: what works on CI machines without systemd or crun.
PODMAN=(podman --runtime=runc --cgroup-manager=cgroupfs)
RUN=(--network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

work=$(mktemp -d)
sim=""
cleanup() {
  "${PODMAN[@]}" rm -f "$NAME" >/dev/null 2>&1 || true
  [ -z "$sim" ] || kill "$sim" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test-image: $*" >&2; exit 1; }

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

buildah build --quiet --build-arg BASE_IMAGE=scratch \
  --build-arg VERSION="$(cat VERSION)" --build-arg REVISION="$(git rev-parse --short HEAD)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -t "$IMAGE" . >/dev/null
echo "built $IMAGE on scratch: $(buildah inspect --format '{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}' "$IMAGE")"
[ "$(buildah inspect --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")" = "$(cat VERSION)" ] ||
  fail "no org.opencontainers.image.version label"

# --version: the version information `make build` put in the binary.
v=$("${PODMAN[@]}" run --rm "${RUN[@]}" "$IMAGE" --version 2>&1)
echo "$v" | grep -q "version $(cat VERSION) (branch: [^,)]\+, revision: [0-9a-f]\+)" || fail "--version: $v"
echo "$v" | grep -q 'build date: *[0-9]\{8\}-' || fail "--version has no build date: $v"

# The simulator, on the host, with the API key the exporter will read.
key=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
KUBIYA_API_KEY=$key ./kubiya-simulator --web.listen-address=127.0.0.1:0 2>"$work/sim.log" &
sim=$!
for _ in $(seq 1 50); do grep -q 'msg=listening' "$work/sim.log" && break; sleep 0.1; done
sim_addr=$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$work/sim.log")
[ -n "$sim_addr" ] || fail "simulator did not start: $(cat "$work/sim.log")"

# The host directory, as README's "Deploying" makes it: readable by the
# container's user 65532, the key by it alone.
conf=$work/etc
install -d -m 0755 "$conf"
cat >"$conf/kubiya.yml" <<YAML
control_plane:
  url: http://$sim_addr
  authorization:
    type: Bearer
    credentials_file: /etc/kubiya_exporter/api-key
  timeout: 5s
jobs:
  - job_0b7d3c52-6a41-4f0e-9c1d-2e8f5a6b7c01
  - job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f
YAML
chmod 0644 "$conf/kubiya.yml"
printf '%s' "$key" >"$work/api-key"
install -m 0400 -o 65532 -g 65532 "$work/api-key" "$conf/api-key"

port=$(free_port)
# An extra flag: it must be added to the entrypoint's --config.file, not
# replace it (without it the exporter would look for ./kubiya.yml and exit).
"${PODMAN[@]}" run -d --name "$NAME" "${RUN[@]}" \
  -v "$conf:/etc/kubiya_exporter:ro" "$IMAGE" --web.listen-address="127.0.0.1:$port" >/dev/null
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
metrics=$(curl -fsS -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://127.0.0.1:$port/metrics") ||
  fail "no /metrics: $("${PODMAN[@]}" logs "$NAME" 2>&1)"
echo "$metrics" | grep -q '^kubiya_up 1$' || fail "kubiya_up is not 1: $(echo "$metrics" | grep '^kubiya_up'); $("${PODMAN[@]}" logs "$NAME" 2>&1)"
echo "$metrics" | grep -q '^kubiya_job_up{.*} 1$' || fail "no kubiya_job_up 1"

pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$NAME")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 65532 ] || fail "the exporter runs as UID $uid, want 65532"
logs=$("${PODMAN[@]}" logs "$NAME" 2>&1)
echo "$logs" | grep -q 'readable by group or others' && fail "key permission warning: $logs"
echo "$logs" | grep -qF "$key" && fail "the API key is in the log"

start=$(date +%s%N)
"${PODMAN[@]}" stop -t 10 "$NAME" >/dev/null
stopped_ms=$((($(date +%s%N) - start) / 1000000))
[ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$NAME")" = false ] || fail "still running"
echo "image OK: scratch, UID $uid, kubiya_up 1 on 127.0.0.1:$port with --config.file kept, stopped in ${stopped_ms} ms"
