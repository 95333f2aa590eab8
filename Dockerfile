# Builds every Passerelle binary once; docker-compose.yml runs each as its own service.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin passerelle --bin ins-service --bin passerelle-sandbox

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/passerelle /src/target/release/ins-service \
    /src/target/release/passerelle-sandbox /usr/local/bin/
USER 65534:65534
