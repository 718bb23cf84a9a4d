# syntax=docker/dockerfile:1.7
# One image with every polyfleet binary the cluster runs: the operator, the agents and the CLI
# (simulator, backtests). Build: docker build --build-arg VERSION=$(git describe --tags --always) -t polyfleet:dev .
# The build context is filtered by .dockerignore (no target/, no .git).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked --bin polyfleet-operator --bin polyfleet-agent --bin polyfleet \
 && mkdir -p /out \
 && cp target/dist/polyfleet-operator target/dist/polyfleet-agent target/dist/polyfleet /out/

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="polyfleet" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.description="Kubernetes-native trading fleet for prediction markets" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/polyfleet"
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/polyfleet-operator"]
