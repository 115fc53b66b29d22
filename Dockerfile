# syntax=docker/dockerfile:1
# c4 job image: the container AWS Batch runs for every array child (`c4 correlate`).
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t <repo>:<tag> --push .
#
# BuildKit is required (RUN --mount for the Cargo cache and the wheel): `docker buildx build`,
# Docker 23+, or DOCKER_BUILDKIT=1 with an older `docker build`; the classic builder fails.
#
# Stage 1 builds the wheel with maturin (release), stage 2 installs it into a slim Python image.
# Every stage runs on the target platform, so one Dockerfile gives the x86_64 and the arm64
# (Graviton) image. No `-C target-cpu=native`: the image is built on one machine and runs on
# many, and the kernels choose their SIMD code paths at run time from the CPU they find.
# The build and install commands are the ones in docs/image-and-ami.md and in .ci/run, which
# runs them outside Docker; tests/test_dockerfile.py keeps the three in step.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm
ARG RUST_VERSION=1.89

# The Rust toolchain, copied into the builder (which keeps the exact Python of the runtime).
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS rust

FROM python:${PYTHON_VERSION}-${DEBIAN_RELEASE} AS builder
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=rust /usr/local/rustup /usr/local/rustup
COPY --from=rust /usr/local/cargo /usr/local/cargo
# The maturin requirement is the build-system requirement of pyproject.toml.
RUN pip install "maturin>=1.5,<2"
WORKDIR /src
COPY Cargo.toml Cargo.lock pyproject.toml README.md ./
COPY rust/ rust/
COPY python/ python/
# Cargo's build directory is cached per target architecture between builds; the wheel lands in
# dist/, outside the cache, so the runtime stage can take it.
ARG TARGETARCH
RUN --mount=type=cache,id=c4-cargo-target-${TARGETARCH},target=/src/target \
    --mount=type=cache,id=c4-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    maturin build --release --out dist

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime
ARG C4_VERSION=0.1.0
ARG C4_SOURCE=""
ARG C4_REVISION=""
LABEL org.opencontainers.image.title="c4" \
      org.opencontainers.image.description="Ambient seismic noise cross-correlation, run as AWS Batch array jobs" \
      org.opencontainers.image.version="${C4_VERSION}" \
      org.opencontainers.image.source="${C4_SOURCE}" \
      org.opencontainers.image.revision="${C4_REVISION}" \
      org.opencontainers.image.licenses="MIT"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Install the wheel and its runtime dependencies straight from the builder stage.
WORKDIR /tmp/c4
RUN --mount=type=bind,from=builder,source=/src/dist,target=/tmp/c4/dist \
    pip install dist/c4-*.whl
# A non-root user owns /scratch. On Batch the host's /docker_scratch is mounted there; the AMI
# gives that directory mode 1777 so this user can write to it whatever its uid on the host.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/c4 c4 \
    && mkdir /scratch \
    && chown c4:c4 /scratch
USER 10001:10001
WORKDIR /scratch
ENTRYPOINT ["c4"]
CMD ["correlate"]
