# The tracker server image (used by docker-compose.yml).
# The pages' npm packages (Leaflet), pinned by web/package-lock.json.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY geo ./geo
COPY server ./server
COPY web ./web
COPY --from=web /web/node_modules ./web/node_modules
RUN pip install --no-cache-dir . && useradd --system --home /app tracker
USER tracker
EXPOSE 8000
# Liveness (the process and its loop), not readiness: a database or Redis outage is ridden
# out, and restarting for it would only drop every courier's socket. The port opens after
# start-up (up to 30 s waiting for the database, then loading runs): the start period.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=2).status != 200)"
CMD ["sh", "-c", "tracker migrate && exec tracker serve --host 0.0.0.0 --port 8000"]
