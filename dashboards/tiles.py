"""Vector tiles of the registry's layers (Mapbox Vector Tiles from PostGIS ``ST_AsMVT``) and their TileJSON.

Routes (blueprint ``tiles``):

* ``/tiles/<layer>/<z>/<x>/<y>.pbf`` — one tile; 204 No Content when the tile has no feature (the status that
  MapLibre/Mapbox GL and OGC API – Tiles recommend for empty tiles; a 200 with an empty body makes some clients
  log errors).
* ``/tiles/<layer>.json`` — TileJSON 3.0.0 with absolute tile URLs (a relative URL silently loads nothing in
  MapLibre, and QGIS needs absolute ones too).

Access: the same rule as every path — ``auth.require_layer`` answers an identical 404 for a layer that does not
exist and for one the user may not see. Public layers are read through the read-only role, the others through
the app's role. Attributes are exactly the registry's fields; nothing from the request reaches the SQL text.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import psycopg
from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy import Engine, text

from dashboards import auth
from dashboards.cache import VersionedCache
from dashboards.context import AppContext
from dashboards.i18n import both
from geo.access import Level
from layers import REGISTRY, LayerSpec

MVT_TYPE = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22           # the route serves up to here (ST_TileEnvelope's practical limit for our data)
ADVERTISED_MAXZOOM = 16  # TileJSON maxzoom: clients over-zoom past it (4096 units at z16 is ~4 cm)
EXTENT, BUFFER = 4096, 64  # MVT defaults; the buffer keeps polygon edges from drawing seams at tile borders
MARGIN = BUFFER / EXTENT   # the bbox filter must reach as far as the clip buffer
WORLD_BOUNDS = (-180.0, -85.0511287798066, 180.0, 85.0511287798066)
_DIGITS = re.compile(r"[0-9]{1,8}")  # ASCII only: str.isdigit() would accept '²' or Arabic-Indic digits


class TileError(Exception):
    """A tile request refused with 400 (bad or forged coordinates)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.body = {"error": both("api.error.bad_param", name=name, reason=reason), "name": name}


def parse_tile(z: str, x: str, y: str) -> tuple[int, int, int]:
    """Validated (z, x, y): 0 ≤ z ≤ 22 and 0 ≤ x, y < 2^z, else ``TileError``."""
    values = []
    for name, raw in (("z", z), ("x", x), ("y", y)):
        if not _DIGITS.fullmatch(raw):
            raise TileError(name, "a whole number ≥ 0")
        values.append(int(raw))
    zi, xi, yi = values
    if zi > MAX_ZOOM:
        raise TileError("z", f"0 ≤ z ≤ {MAX_ZOOM}")
    for name, value in (("x", xi), ("y", yi)):
        if value >= 1 << zi:
            raise TileError(name, f"0 ≤ {name} < 2^z = {1 << zi}")
    return zi, xi, yi


class VersionClock:
    """Every layer's data version, read by at most one query at a time and never older than the request.

    Why: checking the version through the pool costs a checkout, a pre-ping and a query per tile, although
    versions change only when an ingest commits. Concurrent requests share one read here, on one dedicated
    autocommit connection — but only a read that *started after* a request arrived may answer it, so an ingest
    committed before a request is always seen by that request (unlike a TTL, this is never stale).
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._cond = threading.Condition()
        self._started = self._done = 0
        self._reading = False
        self._versions: dict[str, int] = {}
        self._conn: psycopg.Connection | None = None
        self.reads = 0

    def current(self) -> dict[str, int]:
        with self._cond:
            wanted = self._started + 1  # the first read to start after this moment
            while self._done < wanted:
                if not self._reading:
                    self._reading, self._started = True, self._started + 1
                    ticket = self._started
                    break
                self._cond.wait()
            else:
                return self._versions
        versions: dict[str, int] | None = None
        try:
            versions = self._read()
            return versions
        finally:
            with self._cond:
                self._reading = False
                if versions is not None:  # a failed read leaves the waiters to start another one
                    self._versions, self._done = versions, ticket
                self._cond.notify_all()

    def _read(self) -> dict[str, int]:
        for attempt in (1, 2):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
                rows = self._conn.execute("SELECT layer, version FROM data_versions").fetchall()
                self.reads += 1
                return dict(rows)
            except psycopg.OperationalError:
                # A connection dropped since the last read (server restart): reconnect once, then give up.
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class TileCache(VersionedCache):
    """The LRU of tile bodies; keys carry the layer's version from the ``VersionClock`` (no read per lookup)."""

    def versions(self, layers: tuple[str, ...]) -> tuple:
        if layers:
            raise ValueError("tile keys carry their version; pass layers=()")
        return ()


@dataclass
class TileState:
    """What the routes share: the version clock and the tile cache (``app.server.extensions['geo_tiles']``)."""

    clock: VersionClock
    cache: TileCache


@lru_cache(maxsize=None)
def tile_sql(layer: str) -> str:
    """The tile query of one layer: registry fields only, identifiers quoted, z/x/y as bound integers."""
    spec = REGISTRY.get(layer)
    cols = "".join(f', t."{name}"' for name in spec.field_names)
    env = "ST_TileEnvelope(CAST(:z AS integer), CAST(:x AS integer), CAST(:y AS integer)"
    # The filter box is the tile plus the clip buffer, clipped to the world first: ST_TileEnvelope's margin is
    # not clamped east-west, and a box past 180° wraps to the wrong hemisphere once transformed to 4326.
    # `geom &&` a constant box in 4326 (the table's SRID) is what lets the GiST index answer.
    # No `WHERE geom IS NOT NULL` outside: it is pushed down and evaluates ST_AsMVTGeom twice per row, and
    # ST_AsMVT skips the rows whose geometry collapsed to NULL by itself.
    return (f"SELECT ST_AsMVT(m.*, :layer, {EXTENT}, 'geom', 'id') FROM ("
            f"SELECT t.id{cols}, ST_AsMVTGeom(ST_Transform(t.geom, 3857), {env}), {EXTENT}, {BUFFER}, true) AS geom "
            f'FROM "{spec.table}" t '
            f"WHERE t.geom && ST_Transform(ST_ClipByBox2D({env}, margin => {MARGIN}), "
            f"ST_TileEnvelope(0, 0, 0)::box2d), 4326)) m")


def render_tile(engine: Engine, layer: str, z: int, x: int, y: int) -> bytes:
    """The MVT bytes of one tile (empty when no feature touches it; MVT quantisation does the simplifying)."""
    with engine.connect() as conn:
        body = conn.execute(text(tile_sql(layer)), {"layer": layer, "z": z, "x": x, "y": y}).scalar()
    return bytes(body or b"")


def layer_bounds(engine: Engine, spec: LayerSpec) -> tuple[float, float, float, float]:
    """The layer's extent in lon/lat, or the Web Mercator world when the layer is empty."""
    with engine.connect() as conn:
        row = conn.execute(text(f'SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM '
                                f'(SELECT ST_Extent(geom) AS e FROM "{spec.table}") s')).first()
    if row is None or row[0] is None:
        return WORLD_BOUNDS
    return tuple(round(v, 6) for v in row)  # type: ignore[return-value]


def _engine_and_visibility(actx: AppContext, layer: str) -> tuple[Engine, bool]:
    """404 unless the user may see the layer; then the engine of its role and whether it is public."""
    auth.require_layer(actx, layer)
    public = auth.layer_level(actx, layer) == Level.PUBLIC.value
    return (actx.public_engine if public else actx.engine), public


def _cache_headers(resp: Response, etag: str, public: bool) -> Response:
    resp.set_etag(etag, weak=True)  # weak: the bytes may differ between plans, the data may not
    # no-cache = store but revalidate every time: an ingest must show on the next request, and the
    # revalidation costs a 304 without a tile query. Non-public tiles never enter a shared cache.
    resp.headers["Cache-Control"] = f"{'public' if public else 'private'}, no-cache"
    return resp


def _tile(actx: AppContext, state: TileState, layer: str, z: str, x: str, y: str) -> Response:
    zi, xi, yi = parse_tile(z, x, y)
    engine, public = _engine_and_visibility(actx, layer)
    version = state.clock.current().get(layer, 0)
    etag = f"{layer}.{version}"
    if request.if_none_match.contains_weak(etag):
        return _cache_headers(Response(status=304), etag, public)
    body = state.cache.get_or_compute(("tile", layer, zi, xi, yi, version), (),
                                      lambda: render_tile(engine, layer, zi, xi, yi))
    resp = Response(body, status=200, mimetype=MVT_TYPE) if body else Response(status=204)
    return _cache_headers(resp, etag, public)


def _base_url(actx: AppContext) -> str:
    """The configured public URL (behind a proxy), else the URL this request came in on."""
    return (actx.settings.web.public_url or request.host_url.rstrip("/") + request.script_root).rstrip("/")


def tilejson(actx: AppContext, spec: LayerSpec, bounds: tuple[float, ...]) -> dict:
    """TileJSON 3.0.0 for MapLibre and QGIS: absolute tile URL, the registry's fields, bounds and zooms."""
    fields = {f.name: f"{f.title_vi} / {f.title_en}" for f in spec.fields}  # titles carry the unit already
    return {
        "tilejson": "3.0.0",
        "name": f"{spec.title_vi} / {spec.title_en}",
        "description": f"{spec.description_vi} / {spec.description_en}",
        "scheme": "xyz",
        "tiles": [f"{_base_url(actx)}/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.pbf"],
        "minzoom": 0,
        "maxzoom": ADVERTISED_MAXZOOM,
        "bounds": list(bounds),
        "center": [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6), 10],
        "vector_layers": [{"id": spec.name, "description": spec.title_en, "fields": fields,
                           "minzoom": 0, "maxzoom": ADVERTISED_MAXZOOM}],
    }


def _tilejson(actx: AppContext, state: TileState, layer: str) -> Response:
    engine, public = _engine_and_visibility(actx, layer)
    spec = REGISTRY.get(layer)
    version = state.clock.current().get(layer, 0)
    bounds = state.cache.get_or_compute(("bounds", layer, version), (), lambda: layer_bounds(engine, spec))
    resp = jsonify(tilejson(actx, spec, bounds))
    # Revalidated like tiles; the body depends on the Host header, so a shared cache must key on it.
    resp.headers["Vary"] = "Host"
    return _cache_headers(resp, f"{layer}.{version}", public)


def tile_state(server: Flask) -> TileState:
    return server.extensions["geo_tiles"]


def blueprint(actx: AppContext) -> Blueprint:
    """The tile routes of one app; the version clock reads as the app's role (it may read data_versions)."""
    dsn = actx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    state = TileState(VersionClock(dsn), TileCache(actx.engine, actx.settings.web.cache_entries))
    bp = Blueprint("tiles", __name__, url_prefix="/tiles")
    bp.record_once(lambda setup: setup.app.extensions.__setitem__("geo_tiles", state))

    @bp.errorhandler(TileError)
    def on_error(err: TileError) -> Response:
        resp = jsonify(err.body)
        resp.status_code = 400
        return resp

    @bp.get("/<layer>/<z>/<x>/<y>.pbf")
    def tile(layer: str, z: str, x: str, y: str) -> Response:
        return _tile(actx, state, layer, z, x, y)

    @bp.get("/<layer>.json")
    def tile_json(layer: str) -> Response:
        return _tilejson(actx, state, layer)

    return bp
