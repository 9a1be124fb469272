# Multi-stage build: a static binary on distroless, running as non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION} -X github.com/prometheus/common/version.BuildUser=docker" \
      -o /out/kubiya_exporter .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kubiya_exporter /bin/kubiya_exporter
# Mount the configuration at /etc/kubiya_exporter/kubiya.yml and the API key
# as a file (authorization.credentials_file) or the KUBIYA_API_KEY variable.
USER 65532:65532
EXPOSE 9862
ENTRYPOINT ["/bin/kubiya_exporter"]
CMD ["--config.file=/etc/kubiya_exporter/kubiya.yml"]
