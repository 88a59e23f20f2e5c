#!/bin/sh
# Entrypoint of the geo image: bring the schema to the newest migration, then run the command.
#   (no command) or `serve`   the app's long-running process (the image's default CMD)
#   anything else             run as given after migrating, e.g.
#                             docker compose run --rm app geo ingest industrial_parks /data/parks.gpkg
set -eu

serve() {
    # The web app and its API, on all interfaces of the container (GEO_WEB_PORT, 8050 by default).
    exec geo serve --host 0.0.0.0 --port "${GEO_WEB_PORT:-8050}"
}

geo db migrate

if [ "$#" -eq 0 ] || [ "$1" = serve ]; then
    serve
else
    exec "$@"
fi
