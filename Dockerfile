# The laneway image: the control plane (`laneway up`, `laneway ...`) and the ModelCache
# hydration Job on Kubernetes clusters (`python -m laneway.cache`).
# It installs the same package as install.sh, from this checkout, without the test tools
# (install.sh's `dev` extra) and without a model. Build and push it where your clusters pull:
#   docker build -t ghcr.io/laneway/laneway:0.1.0 .
#   docker build --build-arg EXTRAS='[llamacpp]' -t REGISTRY/laneway:0.1.0 .   # with llama.cpp
# The tag laneway's hydration Job uses by default is ghcr.io/laneway/laneway:<version>; an
# InferenceCluster names another with spec.cluster.existing.cache.image.
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

LABEL org.opencontainers.image.title="laneway" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

WORKDIR /opt/laneway
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install ".${EXTRAS}" && rm -rf /opt/laneway/src

# An unprivileged user: the hydration Job writes only its volume, the control plane its data dir.
RUN useradd --create-home --uid 10001 laneway
USER 10001
WORKDIR /home/laneway

ENTRYPOINT ["laneway"]
