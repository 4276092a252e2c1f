# Conveyor: one image for every role (conveyor serve | worker | promoter | history).
#   docker build -t conveyor .
#   docker run --rm conveyor worker --queues default --health-port 8081
# The build stage compiles a release binary with the Swift runtime linked in; the runtime stage is
# Debian 12 slim with only the shared libraries that binary loads (scripts/check-runtime-libs.sh
# compares this list with `ldd` of the binary).

FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis-dev libmongoc-dev libbson-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Plugins ./Plugins
COPY Lua ./Lua
# Package.swift declares the test targets too; SwiftPM refuses a package whose target folders are missing.
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product conveyor \
    && install -D "$(swift build -c release --static-swift-stdlib --show-bin-path)/conveyor" /out/conveyor

FROM debian:12-slim
# BEGIN runtime packages (checked against ldd by scripts/check-runtime-libs.sh)
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        libcurl4 \
        libhiredis0.14 \
        libmongoc-1.0-0 \
        libbson-1.0-0 \
    && rm -rf /var/lib/apt/lists/*
# END runtime packages
# The dashboard's files are embedded in the binary; its charts use Chart.js from Debian's package,
# which `serve` serves at /vendor/chart.js/ from /usr/share/javascript/chart.js.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libjs-chart.js \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin conveyor
COPY --from=build /out/conveyor /usr/local/bin/conveyor
USER 10001:10001
EXPOSE 8080 8081
# `conveyor health` asks http://127.0.0.1:$CONVEYOR_HEALTH_PORT/readyz (default 8080, the API's
# port); worker, promoter and history containers set CONVEYOR_HEALTH_PORT to their --health-port.
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 CMD ["conveyor", "health"]
ENTRYPOINT ["conveyor"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
