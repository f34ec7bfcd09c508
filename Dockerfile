# syntax=docker/dockerfile:1
# Fortbridge: one image for the five services (and the simulators used by local stacks).
#   docker build -t fortbridge:latest .
#   docker run --rm fortbridge:latest run ingest      # one service
#   docker run --rm fortbridge:latest migrate all     # apply every migration and exit
# No secrets are baked in: every setting comes from the environment at run time.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the locked dependencies into a venv, then a wheel of the project without deps -------
# Every dependency comes from requirements/ (scripts/lock.sh: versions pinned, files hashed,
# wheels only), so two builds of one commit install the same packages.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements ./requirements
RUN python -m venv /opt/fortbridge \
 && /opt/fortbridge/bin/pip install --require-hashes --only-binary=:all: \
      -r requirements/runtime.txt \
 && python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --only-binary=:all: -r requirements/build.txt
COPY pyproject.toml ./
COPY fortbridge ./fortbridge
COPY libs ./libs
COPY services ./services
COPY simulators ./simulators
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/fortbridge/bin/pip install --no-deps /wheels/fortbridge-*.whl

# --- runtime: the venv only, run as an unprivileged user -----------------------------------------
# The same base image as the build stage, so the venv's interpreter links resolve.
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/fortbridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 fortbridge \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin fortbridge
COPY --from=build /opt/fortbridge /opt/fortbridge
# Nothing is written under the working directory; Kubernetes mounts a writable /tmp only.
WORKDIR /tmp
USER 10001:10001
# ingest, mapper, fortnox_writer, timeline, replayer (HTTP_PORT overrides a lone service's port)
EXPOSE 8080 8081 8082 8083 8084
ENTRYPOINT ["fortbridge"]
CMD ["run", "all"]
