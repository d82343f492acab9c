# syntax=docker/dockerfile:1
# The yzmon image: the Faust worker (default command), `yzmon db migrate` and `yzmon replay`.
#
#   docker build -t yzmon:local .
#
# Two stages: `build` has the compilers and pip's caches; `runtime` gets only the virtualenv and the
# source tree, and runs as an unprivileged user.

FROM python:3.11.14-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them:
# install the project against empty packages, then remove it and keep its dependencies.
COPY pyproject.toml README.md ./
RUN for pkg in yzmon streams readpath producers simulators schemas; do mkdir -p "$pkg" && touch "$pkg/__init__.py"; done \
    && pip install . \
    && pip uninstall -y yzmon \
    && rm -rf yzmon streams readpath producers simulators schemas build ./*.egg-info

# The project itself, installed in editable mode on purpose: yzcore.migrate reads sql/ next to the
# packages (Path(__file__).parent.parent / "sql"), which a regular wheel install would not carry.
# /app and /opt/venv keep the same paths in the runtime stage, so the install stays valid there.
COPY yzmon ./yzmon
COPY yzcore ./yzcore
COPY streams ./streams
COPY readpath ./readpath
COPY producers ./producers
COPY simulators ./simulators
COPY schemas ./schemas
COPY sql ./sql
COPY dashboards ./dashboards
RUN pip install --no-deps -e . \
    && python -m compileall -q /app/yzmon /app/streams /app/readpath /app/producers /app/simulators /app/schemas


FROM python:3.11.14-slim-bookworm AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TZ=Asia/Shanghai \
    YZMON_DATA_DIR=/var/lib/yzmon

RUN groupadd --system --gid 10001 yzmon \
    && useradd --system --uid 10001 --gid yzmon --home-dir /var/lib/yzmon --shell /usr/sbin/nologin yzmon \
    && mkdir -p /var/lib/yzmon \
    && chown yzmon:yzmon /var/lib/yzmon

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

WORKDIR /app
USER 10001:10001

# Faust web: /health, /status. Not published by docker-compose.yml (replicas would clash).
EXPOSE 6066

CMD ["python", "-m", "streams.worker"]
