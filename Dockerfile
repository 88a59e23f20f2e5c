# syntax=docker/dockerfile:1
# The geo platform: the `geo` command line (and, later, the web app) against PostGIS at GEO_DATABASE_URL.
# Built and run by docker-compose.yml; by hand: docker build -t geo-binhduong .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The wheels of rasterio, pyogrio, shapely and pyproj bundle GDAL, GEOS and PROJ, and psycopg[binary]
# bundles libpq: from Debian only libexpat1 (used by the bundled GDAL) is needed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libexpat1 \
 && rm -rf /var/lib/apt/lists/*

# The dependencies first, read from pyproject.toml alone, so that a code change does not reinstall them.
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Then this project itself.
COPY geo ./geo
COPY layers ./layers
COPY ingest ./ingest
COPY dashboards ./dashboards
RUN pip install . \
 && rm -rf /src

COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/geo-entrypoint

# Not root. /app/.geo holds runs and rejects reports (GEO_DATA_DIR / GEO_INGEST_REPORTS_DIR default to
# .geo and .geo/reports under the working directory); it exists here so that a volume mounted on it
# starts owned by this user.
RUN useradd --system --user-group --uid 10001 --home-dir /app --shell /usr/sbin/nologin geo \
 && mkdir -p /app/.geo/reports \
 && chown -R geo:geo /app
WORKDIR /app
USER geo

# The web app: `geo serve` listens on GEO_WEB_PORT (see serve() in docker/entrypoint.sh).
ENV GEO_WEB_PORT=8050
EXPOSE 8050

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["geo", "db", "status"]

ENTRYPOINT ["/usr/local/bin/geo-entrypoint"]
CMD ["serve"]
