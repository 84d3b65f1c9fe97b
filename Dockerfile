# One image with every binary of the workspace, plus redis-server and
# FerretDB for the nodes. docker-compose.yml runs each component from it.

# FerretDB 1.24.2, built from the Go module proxy with the project's fix
# (see scripts/install-ferretdb.sh).
FROM golang:1.24-bookworm AS ferretdb
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
COPY scripts/install-ferretdb.sh scripts/ferretdb-skip-empty-exchange.py /src/scripts/
RUN FERRETDB_BIN=/out/ferretdb /src/scripts/install-ferretdb.sh

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins \
 && mkdir -p /out \
 && cp target/release/gateway target/release/node-redis target/release/node-mongodb \
       target/release/purge-orphan target/release/cc-sim target/release/mongo-check /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server ca-certificates curl jq \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY --from=ferretdb /out/ferretdb /usr/local/bin/ferretdb
RUN useradd --system --create-home --home-dir /var/vcap vcap \
 && mkdir -p /var/vcap/store && chown vcap /var/vcap/store
USER vcap
