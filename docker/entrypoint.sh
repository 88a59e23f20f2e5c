#!/bin/sh
# Entrypoint of the geo image: bring the schema to the newest migration, then run the command.
#   (no command) or `serve`   the app's long-running process (the image's default CMD)
#   anything else             run as given after migrating, e.g.
#                             docker compose run --rm app geo ingest industrial_parks /data/parks.gpkg
set -eu

serve() {
    # >>> WEB SERVER GOES HERE. When `geo serve` exists, replace this whole body with:
    #       exec geo serve --host 0.0.0.0 --port "${GEO_WEB_PORT}"
    # Until then: print what is loaded (`geo runs` stands in for a `geo summary`, which is not a command
    # yet) and stay up, so that the restart policy and the health check behave as they will with the server.
    geo runs
    echo "geo: no web app yet (it will listen on port ${GEO_WEB_PORT:-8050}); idling until stopped." >&2
    trap 'exit 0' INT TERM
    sleep infinity &
    wait $!
}

geo db migrate

if [ "$#" -eq 0 ] || [ "$1" = serve ]; then
    serve
else
    exec "$@"
fi
