# chainseal container image: one static (musl) binary on a distroless base, non-root,
# configured entirely from CHAINSEAL_* environment variables.
#
#   docker build -t chainseal .
#   docker run --rm -v "$PWD:/work" -w /work \
#     -e CHAINSEAL_RECORD=examples/pipelinerun.yaml -e CHAINSEAL_KEY=examples/demo.key \
#     chainseal
#
# Base images are pinned by digest (a tag can be re-pointed; a digest cannot), with the
# tag kept for readers and for Renovate/Dependabot, which should keep the digests
# current. The digests are multi-arch index digests taken from public, registry-resolved
# pins (Renovate updates and build logs) as this machine had no registry access: rust
# 1.95-bookworm as docker resolved it in public build logs in 2026 (1.95 tags are no
# longer rebuilt once 1.96 ships); distroless static-debian12 :nonroot as of 2026-08-03
# and :debug as of 2026-07-16.
# Re-check with `crane digest <image>:<tag>` (or `docker buildx imagetools inspect`)
# before publishing, and bump them with the toolchain (rust-version in Cargo.toml).

FROM docker.io/library/rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --locked --release --target x86_64-unknown-linux-musl --bin chainseal \
 && cp target/x86_64-unknown-linux-musl/release/chainseal /chainseal

# The core build: no cloud KMS, Vault, S3/GCS or document-database providers (key files,
# keyless, Rekor, OCI, files, Tekton, Grafeas, Archivista and GitHub storage stay), about
# half the size. `docker build --target core`.
FROM build AS build-core
RUN CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --locked --release --target x86_64-unknown-linux-musl --bin chainseal --no-default-features \
 && cp target/x86_64-unknown-linux-musl/release/chainseal /chainseal

FROM gcr.io/distroless/static-debian12:nonroot@sha256:f5b485ea962d9bd1186b2f6b3a061191539b905b82ec395de78cbfae51f20e35 AS core
COPY --from=build-core /chainseal /usr/local/bin/chainseal
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/chainseal"]

# The CI variant (`docker build --target ci`, published as chainseal-ci), for GitHub
# docker actions and GitLab CI jobs: GitHub runs docker actions as root with the
# workspace and its file-command files owned by the runner and overrides the working
# directory, so this image sets neither USER nor WORKDIR; GitLab runs a job's script
# with the image's shell, so this base has busybox `sh`.
FROM gcr.io/distroless/static-debian12:debug@sha256:ecbc4ac563b95a132fd370065553857dcc38943066cb0662d09999011f3d3597 AS ci
COPY --from=build /chainseal /usr/local/bin/chainseal
# mimalloc otherwise commits its arenas eagerly: ~25 MiB more resident memory for a
# long-running controller, no measurable speed difference (BENCHMARKS.md).
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
ENTRYPOINT ["/usr/local/bin/chainseal"]

# The default image. distroless/static: CA certificates, /tmp and a non-root user, no shell.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:f5b485ea962d9bd1186b2f6b3a061191539b905b82ec395de78cbfae51f20e35
COPY --from=build /chainseal /usr/local/bin/chainseal
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/chainseal"]
