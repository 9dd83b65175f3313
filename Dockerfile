# syntax=docker/dockerfile:1.7
# The one `aiops` image: the pipeline steps, the model server (KServe runtime), the MCP server
# and `aiops watch` all run this binary. Multi-stage: a static musl build, then distroless
# `static` (no shell, no package manager, ~2 MB base) running as the non-root user 65532.
#
#   docker build -t ghcr.io/aiops-rs/aiops:0.1.0 .
#
# (Images cannot be built on the development machines, which have no Docker engine; CI checks
# this file statically, see infra/README.md.)

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p aiops --bin aiops \
    && cp target/dist/aiops /aiops

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.source="https://github.com/aiops-rs/aiops" \
      org.opencontainers.image.description="aiops: anomaly detection for Kubernetes nodes" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /aiops /usr/local/bin/aiops
USER 65532:65532
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/aiops"]
CMD ["--help"]
