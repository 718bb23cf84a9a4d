# One image with every polyfleet binary. Build: docker build -t polyfleet:dev .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
 && mkdir -p /out \
 && cp target/release/polyfleet-operator target/release/polyfleet-agent target/release/polyfleet target/release/crdgen /out/

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="polyfleet" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.description="Kubernetes-native trading fleet for prediction markets" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/polyfleet"
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/polyfleet-operator"]
