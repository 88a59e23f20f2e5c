"""Open data API under /api/v1: stations with their current index, raw readings and indices, JSON/GeoJSON/CSV."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
from flask import Blueprint, Response, current_app, request

from dashboards import air_data
from dashboards.context import AppContext
from dashboards.i18n import both
from dashboards.openapi import spec as openapi_spec

SCHEMES = ("vn", "us")
FORMATS = ("json", "csv")


class ApiError(Exception):
    """A request the API refuses, with its status and a message in both languages."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status, self.body = status, {"error": both(key, **values), **{k: str(v) for k, v in values.items()}}


def _ctx() -> AppContext:
    return current_app.config["GEO_CONTEXT"]


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise ApiError(400, "api.error.bad_param", name=name, reason=f"expected one of {', '.join(allowed)}")
    return value


def _time(name: str, default: datetime) -> datetime:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        ts = pd.Timestamp(raw)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "api.error.bad_param", name=name, reason="not an ISO 8601 date or time") from exc
    if ts is pd.NaT:
        raise ApiError(400, "api.error.bad_param", name=name, reason="not an ISO 8601 date or time")
    # Times without an offset are Vietnam time, as everywhere on the platform.
    return (ts.tz_localize("Asia/Ho_Chi_Minh") if ts.tzinfo is None else ts).to_pydatetime()


def _range() -> tuple[datetime, datetime]:
    # The default end is the top of the next hour: stable within the hour, so repeated calls share a cache entry.
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    end = _time("end", now)
    start = _time("start", end - timedelta(days=7))
    if start >= end:
        raise ApiError(400, "api.error.range", reason="start must be before end")
    if end - start > timedelta(days=_ctx().settings.web.api_max_days):
        raise ApiError(400, "api.error.range", reason=f"at most {_ctx().settings.web.api_max_days} days per call")
    return start, end


def _station(code: str) -> dict:
    found = _ctx().cache.get_or_compute(("station", code), air_data.AIR_LAYERS,
                                        lambda: air_data.station(_ctx().public_engine, code))
    if found is None:
        raise ApiError(404, "api.error.unknown_station", code=code)
    return found


def _records(df: pd.DataFrame) -> list[dict]:
    out = df.copy()
    if "aqi" in out.columns:
        # An index is an integer; NULLs made pandas read the column as float.
        out["aqi"] = out["aqi"].astype("Int64")
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].map(lambda v: None if pd.isna(v) else v.isoformat())
    return json.loads(out.to_json(orient="records", date_format="iso", force_ascii=False))


def _respond(df: pd.DataFrame, fmt: str, meta: dict) -> Response:
    if fmt == "csv":
        buf = io.StringIO()
        flat = df.drop(columns=[c for c in ("detail",) if c in df.columns])
        flat.to_csv(buf, index=False)
        return Response(buf.getvalue(), mimetype="text/csv; charset=utf-8")
    return Response(json.dumps({**meta, "count": len(df), "data": _records(df)}, ensure_ascii=False, default=str),
                    mimetype="application/json")


def _cached(key: tuple, build) -> Response:  # type: ignore[no-untyped-def]
    body, mimetype = _ctx().cache.get_or_compute(("api",) + key, air_data.AIR_LAYERS,
                                                 lambda: (lambda r: (r.get_data(), r.mimetype))(build()))
    return Response(body, mimetype=mimetype)


def blueprint() -> Blueprint:
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    @bp.errorhandler(ApiError)
    def on_error(err: ApiError) -> Response:
        return Response(json.dumps(err.body, ensure_ascii=False), status=err.status, mimetype="application/json")

    @bp.get("/openapi.json")
    def openapi() -> Response:
        return Response(json.dumps(openapi_spec(), ensure_ascii=False), mimetype="application/json")

    @bp.get("/stations")
    def stations() -> Response:
        scheme = _choice("scheme", SCHEMES, "vn")
        fmt = _choice("format", ("json", "geojson", "csv"), "json")
        return _cached(("stations", scheme, fmt), lambda: _stations_body(scheme, fmt))

    @bp.get("/stations/<code>/measurements")
    def measurements(code: str) -> Response:
        fmt = _choice("format", FORMATS, "json")
        start, end = _range()
        params = request.args.get("parameter")
        wanted = params.split(",") if params else None
        if wanted:
            known = set(air_data.parameters(_ctx().public_engine))
            bad = [p for p in wanted if p not in known]
            if bad:
                raise ApiError(400, "api.error.bad_param", name="parameter", reason=f"unknown {', '.join(bad)}")
        _station(code)
        return _cached(("measurements", code, start, end, params, fmt), lambda: _respond(
            air_data.measurements(_ctx().public_engine, code, start, end, wanted), fmt,
            {"station": code, "start": start.isoformat(), "end": end.isoformat(), "unit_note": "value in the "
             "parameter's canonical unit (µg/m³ for air, CO included); original_value/original_unit as received"}))

    @bp.get("/stations/<code>/aqi/<kind>")
    def aqi(code: str, kind: str) -> Response:
        if kind not in ("hourly", "daily"):
            raise ApiError(404, "api.error.not_found")
        scheme = _choice("scheme", SCHEMES, "vn")
        fmt = _choice("format", FORMATS, "json")
        start, end = _range()
        _station(code)
        query = air_data.hourly_index if kind == "hourly" else air_data.daily_index
        return _cached(("aqi", kind, code, scheme, start, end, fmt), lambda: _respond(
            query(_ctx().public_engine, code, scheme, start, end), fmt,
            {"station": code, "scheme": scheme, "method": "VN_AQI, Decision 1459/QĐ-TCMT" if scheme == "vn"
             else "US EPA AQI (2024)", "start": start.isoformat(), "end": end.isoformat()}))

    return bp


def _stations_body(scheme: str, fmt: str) -> Response:
    ctx = _ctx()
    df = air_data.stations_current(ctx.engine, scheme, ctx.settings.web.stale_after_hours)
    meta = {"scheme": scheme, "method": "VN_AQI, Decision 1459/QĐ-TCMT" if scheme == "vn" else "US EPA AQI (2024)",
            "stale_after_hours": ctx.settings.web.stale_after_hours}
    if fmt != "geojson":
        return _respond(df, fmt, meta)
    props = _records(df.drop(columns=["lon", "lat"]))
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": p}
                for lon, lat, p in zip(df["lon"], df["lat"], props)]
    return Response(json.dumps({"type": "FeatureCollection", **meta, "features": features}, ensure_ascii=False,
                               default=str), mimetype="application/geo+json")
