# syntax=docker/dockerfile:1.7
#
# provbus container image: a static, stripped binary on distroless (no shell,
# no package manager), running as the non-root user 65532.
#
#   docker build -t provbus:dev .
#   docker run --rm provbus:dev --help
#
# The builder runs on the build host's platform and cross-compiles
# (CGO_ENABLED=0), so `docker buildx build --platform linux/amd64,linux/arm64`
# needs no emulation.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first: this layer (and the cache mount) survive source changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w" -o /out/provbus ./cmd/provbus

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/provbus /usr/local/bin/provbus
# nonroot:nonroot in distroless; stated numerically so Kubernetes'
# runAsNonRoot can verify it.
USER 65532:65532
# provbus ingest (webhooks; its /metrics is on 9465, process's on 9464); `provbus dev`
# also listens on 9092 and 8081.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/provbus"]
CMD ["--help"]
