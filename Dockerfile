# chainseal container image: one static (musl) binary on a distroless base, non-root,
# configured entirely from CHAINSEAL_* environment variables.
#
#   docker build -t chainseal .
#   docker run --rm -v "$PWD:/work" -w /work \
#     -e CHAINSEAL_RECORD=examples/pipelinerun.yaml -e CHAINSEAL_KEY=examples/demo.key \
#     chainseal
#
# Pin the base images by digest when publishing.

FROM docker.io/library/rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --locked --release --target x86_64-unknown-linux-musl --bin chainseal \
 && cp target/x86_64-unknown-linux-musl/release/chainseal /chainseal

# The CI variant (`docker build --target ci`, published as chainseal-ci), for GitHub
# docker actions and GitLab CI jobs: GitHub runs docker actions as root with the
# workspace and its file-command files owned by the runner and overrides the working
# directory, so this image sets neither USER nor WORKDIR; GitLab runs a job's script
# with the image's shell, so this base has busybox `sh`.
FROM gcr.io/distroless/static-debian12:debug AS ci
COPY --from=build /chainseal /usr/local/bin/chainseal
# mimalloc otherwise commits its arenas eagerly: ~25 MiB more resident memory for a
# long-running controller, no measurable speed difference (BENCHMARKS.md).
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
ENTRYPOINT ["/usr/local/bin/chainseal"]

# The default image. distroless/static: CA certificates, /tmp and a non-root user, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /chainseal /usr/local/bin/chainseal
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/chainseal"]
