# The image copies the binary `make build` made (with its version, branch
# and build date) onto a base image, as node_exporter's does: no compiler
# and nothing fetched at build time. `make docker` builds it; CI builds it
# on scratch (--build-arg BASE_IMAGE=scratch) and runs it (scripts/test-image.sh).
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot
FROM ${BASE_IMAGE}
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="kubiya_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Kubiya control plane jobs" \
      org.opencontainers.image.source="https://github.com/kubiya/kubiya_exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# Static binary (CGO off) with the time zone database compiled in: it needs
# no libc, /etc/passwd or zoneinfo, so scratch works as well as distroless.
COPY kubiya_exporter /bin/kubiya_exporter
# Distroless' "nonroot" user, also on scratch (no /etc/passwd needed).
USER 65532:65532
EXPOSE 9862
# The configuration path is part of the entrypoint, so flags given to
# `docker run IMAGE --flag` are added to it rather than replacing it. Mount
# the configuration at /etc/kubiya_exporter/kubiya.yml.
ENTRYPOINT ["/bin/kubiya_exporter", "--config.file=/etc/kubiya_exporter/kubiya.yml"]
