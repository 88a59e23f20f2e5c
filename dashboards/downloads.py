"""Downloads of one layer (GeoJSON, GeoPackage, CSV with WKT), filtered safely, within the user's rights."""
from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import pyogrio
from flask import Blueprint, Response, abort, current_app, request, stream_with_context

from dashboards import auth, layers_data
from dashboards.context import AppContext
from dashboards.i18n import both
from geo.access import Role

FORMATS = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3",
           "csv": "text/csv; charset=utf-8"}
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CHUNK = 64 * 1024


def _ctx() -> AppContext:
    return current_app.config["GEO_CONTEXT"]


def _refuse(err: layers_data.FilterError) -> Response:
    return Response(json.dumps({"error": both(err.key, **err.values)}, ensure_ascii=False), status=400,
                    mimetype="application/json")


def request_filter(layer: str, args) -> layers_data.AttrFilter | None:  # type: ignore[no-untyped-def]
    """The same safe filter as the map: the field must be the registry's, the value is a bound parameter."""
    if not any(args.get(k) for k in ("field", "op", "value")):
        return None
    return layers_data.parse_filter(layer, args.get("field"), args.get("op"), args.get("value"))


def request_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise layers_data.FilterError("dept.error.date") from exc


def _plain(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Dates as ISO text: JSON has no date type and GDAL would otherwise guess per driver."""
    out = frame.copy()
    for col in out.columns:
        if col != "geom" and out[col].dtype == object:
            out[col] = out[col].map(lambda v: v.isoformat() if isinstance(v, (date, datetime)) else v)
    return out


def _gpkg_chunks(frame: gpd.GeoDataFrame, layer: str) -> Iterator[bytes]:
    # GeoPackage is SQLite: GDAL needs a real file. Write it, open it, remove it at once (POSIX keeps the open
    # handle readable), then stream: nothing is left behind even if the client disconnects mid-download.
    with tempfile.TemporaryDirectory(prefix="geo-dl-") as tmp:
        path = os.path.join(tmp, f"{layer}.gpkg")
        pyogrio.write_dataframe(frame, path, driver="GPKG", layer=layer)
        handle = open(path, "rb")

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    return chunks()


def body(frame: gpd.GeoDataFrame, fmt: str, layer: str) -> Iterator[bytes]:
    """The file's bytes; the work is done before the response starts, so an error is a clean 500."""
    frame = _plain(frame)
    if fmt == "csv":
        flat = frame.drop(columns="geom").assign(wkt=frame.geometry.to_wkt())
        # The BOM makes Excel (what most staff open CSVs with) read Vietnamese as UTF-8.
        return iter([flat.to_csv(index=False).encode("utf-8-sig")])
    if fmt == "geojson":
        return iter([frame.to_json(ensure_ascii=False, drop_id=True).encode("utf-8")])
    return _gpkg_chunks(frame, layer)


def _engine(actx: AppContext):  # type: ignore[no-untyped-def]
    """Visitors and public users read through the read-only role: it cannot see internal tables at all."""
    return actx.public_engine if auth.current_role() in (Role.ANONYMOUS, Role.PUBLIC) else actx.engine


def download(filename: str) -> Response:
    layer, dot, fmt = filename.rpartition(".")
    if not dot or fmt not in FORMATS:
        abort(404)
    actx = _ctx()
    auth.require_layer(actx, layer)  # 404 before anything else: no hint that a hidden layer exists
    try:
        flt = request_filter(layer, request.args)
        bbox = layers_data.parse_bbox(request.args.get("bbox"))
        on = request_date(request.args.get("date"))
    except layers_data.FilterError as err:
        return _refuse(err)
    frame = layers_data.download_frame(_engine(actx), layer, flt, bbox, on)
    stamp = datetime.now(LOCAL_TZ).date().isoformat()
    name = f"{layer}_{stamp}.{fmt}"
    resp = Response(stream_with_context(body(frame, fmt, layer)), mimetype=FORMATS[fmt])
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def blueprint() -> Blueprint:
    bp = Blueprint("downloads", __name__)
    bp.add_url_rule("/download/<filename>", "download", download, methods=["GET"])
    return bp


def frame_from_bytes(data: bytes, fmt: str) -> gpd.GeoDataFrame:
    """Read a download back (tests and checks): the inverse of ``body``."""
    if fmt == "csv":
        import pandas as pd

        df = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries.from_wkt(df.pop("wkt")), crs="EPSG:4326")
    return pyogrio.read_dataframe(io.BytesIO(data))
