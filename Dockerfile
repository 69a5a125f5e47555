# The tracker server image, built once and shared by docker-compose.yml's services.

# The pages' npm packages (Leaflet), pinned by web/package-lock.json; Node 24, the Active LTS.
FROM node:24-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# The wheel: the server with its pages and the map library inside it (server/web), so the
# image needs no checkout. The build backend is the exact version pyproject.toml names.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml hatch_build.py README.md LICENSE ./
COPY geo ./geo
COPY server ./server
COPY web ./web
COPY --from=web /web/node_modules ./web/node_modules
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps -w /dist .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# `tracker osm import` reads extracts with osmium, `tracker tiles build` runs tilemaker:
# both from Debian, so the composed services can load roads and build the basemap.
RUN apt-get update \
  && apt-get install -y --no-install-recommends osmium-tool tilemaker \
  && rm -rf /var/lib/apt/lists/*
# Every dependency at the version and hash of the lock (scripts/lock.sh), in a layer of its
# own: a change to the code alone does not reinstall them. Then the project, without deps.
COPY requirements/runtime.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY --from=wheel /dist /tmp/dist
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl && rm -r /tmp/dist \
  && useradd --system --home /app tracker
WORKDIR /app
# Where `tracker tiles build` writes by default (TRACKER_TILES_FILE): a volume in compose.
RUN mkdir -p /app/.local/tiles && chown -R tracker /app
USER tracker
EXPOSE 8000
# Liveness (the process and its loop), not readiness: a database or Redis outage is ridden
# out, and restarting for it would only drop every courier's socket. The port opens after
# start-up (up to 30 s waiting for the database, then loading runs): the start period.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=2).status != 200)"
CMD ["sh", "-c", "tracker migrate && exec tracker serve --host 0.0.0.0 --port 8000"]
