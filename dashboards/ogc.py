"""OGC API – Features (Part 1: Core, GeoJSON, OpenAPI 3.0) under /ogc, for the layers the current user may see.

Native on purpose (docs/DESIGN.md, "OGC API – Features: why a native implementation"): collections and items go
through the same registry and the same ``visible_layers``/``require_layer`` checks as pages, tiles, API and
downloads, so there is one access rule for every path.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from html import escape
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from sqlalchemy import Engine

from dashboards import auth
from dashboards.api import ApiError
from dashboards.context import AppContext
from dashboards.i18n import t
from dashboards.ogc_queries import CRS84, ItemQuery, extent, item, items
from geo.access import Level
from layers import REGISTRY, FieldType, LayerSpec

PREFIX = "/ogc"
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
MAX_OFFSET = 10_000_000
JSON, GEOJSON = "application/json", "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
CONFORMANCE = [CONF + "core", CONF + "geojson", CONF + "oas30"]
# Query parameters of /items that are not attribute filters.
ITEM_PARAMS = frozenset({"f", "limit", "offset", "bbox", "bbox-crs", "datetime", "crs"})
CRS84_ALIASES = frozenset({CRS84, "https://www.opengis.net/def/crs/OGC/1.3/CRS84", "CRS84", "OGC:CRS84"})
MAX_FID = 2**63 - 1  # ids are bigint; anything larger cannot exist (and must not reach the database)


def _ctx() -> AppContext:
    return current_app.config["GEO_CONTEXT"]


def _bad(name: str, vi: str, en: str) -> ApiError:
    """A 400 whose reason is in each message's own language (the catalogue holds the sentence around it)."""
    err = ApiError(400, "api.error.bad_param", name=name, reason=en)
    err.body["error"] = {"vi": t("api.error.bad_param", "vi", name=name, reason=vi),
                         "en": t("api.error.bad_param", "en", name=name, reason=en)}
    return err


def _base() -> str:
    """Absolute root of the OGC API: the configured public URL, else the host the request came to."""
    root = _ctx().settings.web.public_url or request.host_url
    return root.rstrip("/") + PREFIX


def _link(href: str, rel: str, mtype: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": mtype}
    if title:
        out["title"] = title
    return out


def _respond(body: dict[str, Any], mtype: str = JSON, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype=mtype)


def _format(allowed: tuple[str, ...] = ("json",)) -> str:
    value = request.args.get("f", "json")
    if value not in allowed:
        raise _bad("f", f"chỉ hỗ trợ {', '.join(allowed)}", f"only {', '.join(allowed)} is supported")
    return value


def _engine_for(layer: str) -> Engine:
    """Public layers are read with the read-only role; the rest with the app's role (after the access check)."""
    actx = _ctx()
    return actx.public_engine if auth.layer_level(actx, layer) == Level.PUBLIC.value else actx.engine


def _one(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise _bad(name, "chỉ được cho một lần", "may be given only once")
    return values[0] if values else None


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = _one(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise _bad(name, "phải là số nguyên", "must be an integer") from exc
    if not low <= value <= high:
        raise _bad(name, f"phải trong khoảng {low}–{high}", f"must be between {low} and {high}")
    return value


def _limit() -> int:
    # Part 1 lets a server cap a too-large limit instead of refusing it; QGIS reads the maximum from /ogc/api.
    value = _int("limit", DEFAULT_LIMIT, 1, 2**31)
    return min(value, MAX_LIMIT)


def _bbox() -> tuple[float, float, float, float] | None:
    raw = _one("bbox")
    crs = _one("bbox-crs")
    if crs is not None and crs not in CRS84_ALIASES:
        raise _bad("bbox-crs", "chỉ hỗ trợ CRS84", "only CRS84 is supported")
    if raw is None:
        return None
    try:
        nums = [float(p) for p in raw.split(",")]
    except ValueError as exc:
        raise _bad("bbox", "phải là minx,miny,maxx,maxy", "must be minx,miny,maxx,maxy") from exc
    if len(nums) == 6:  # 3D box: keep the horizontal part
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4 or not all(math.isfinite(v) for v in nums):
        raise _bad("bbox", "phải là 4 số minx,miny,maxx,maxy", "must be 4 numbers minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = nums
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise _bad("bbox", "ngoài phạm vi kinh/vĩ độ hoặc min > max",
                   "outside longitude/latitude range or min > max (boxes across the antimeridian are not supported)")
    return minx, miny, maxx, maxy


def _instant(raw: str) -> datetime | None:
    if raw in ("", ".."):
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise _bad("datetime", "phải theo RFC 3339 (ví dụ 2025-01-31T00:00:00Z)",
                   "must be RFC 3339 (e.g. 2025-01-31T00:00:00Z)") from exc
    # A time without an offset is read as UTC, the API's reference (RFC 3339 requires one anyway).
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _datetime() -> tuple[datetime | None, datetime | None]:
    """``datetime`` applies to the features' last update (``updated_at``): an instant or a/b, ../b, a/.."""
    raw = _one("datetime")
    if raw is None:
        return None, None
    parts = raw.split("/")
    if len(parts) == 1:
        at = _instant(parts[0])
        if at is None:
            raise _bad("datetime", "thiếu thời điểm", "an instant is required")
        return at, at
    if len(parts) != 2:
        raise _bad("datetime", "phải là một thời điểm hoặc khoảng a/b", "must be an instant or an interval a/b")
    start, end = _instant(parts[0]), _instant(parts[1])
    if start is not None and end is not None and start > end:
        raise _bad("datetime", "đầu khoảng sau cuối khoảng", "the interval starts after it ends")
    return start, end


def _typed(spec: LayerSpec, name: str, raw: str) -> Any:
    kind = spec.field(name).type
    try:
        if kind is FieldType.INTEGER:
            value = int(raw)
            if abs(value) > MAX_FID:
                raise ValueError(raw)
            return value
        if kind is FieldType.NUMBER:
            number = float(raw)
            if not math.isfinite(number):
                raise ValueError(raw)
            return number
        if kind is FieldType.DATE:
            return datetime.strptime(raw, "%Y-%m-%d").date()
        if kind is FieldType.BOOLEAN:
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError) as exc:
        raise _bad(name, f"phải là giá trị kiểu {kind.value}", f"must be a {kind.value} value") from exc
    return raw


def _filters(spec: LayerSpec) -> dict[str, Any]:
    """Equality filters: only the registry's field names are accepted; values are converted, then bound."""
    out: dict[str, Any] = {}
    for name in request.args:
        if name in ITEM_PARAMS:
            continue
        if name not in spec.field_names:
            raise _bad(name, f"không phải trường của lớp {spec.name}; các trường: {', '.join(spec.field_names)}",
                       f"not a field of {spec.name}; fields: {', '.join(spec.field_names)}")
        raw = _one(name)
        out[name] = _typed(spec, name, raw or "")
    return out


def _item_query(spec: LayerSpec) -> ItemQuery:
    crs = _one("crs")
    if crs is not None and crs not in CRS84_ALIASES:
        raise _bad("crs", "chỉ hỗ trợ CRS84", "only CRS84 is supported")
    start, end = _datetime()
    return ItemQuery(limit=_limit(), offset=_int("offset", 0, 0, MAX_OFFSET), bbox=_bbox(), start=start, end=end,
                     equals=_filters(spec))


def _collection(spec: LayerSpec) -> dict[str, Any]:
    base = f"{_base()}/collections/{spec.name}"
    ext = _ctx().cache.get_or_compute(("ogc_extent", spec.name), (spec.name,),
                                      lambda: extent(_engine_for(spec.name), spec))
    out: dict[str, Any] = {
        "id": spec.name, "title": spec.title_vi,
        "description": f"{spec.title_en}. {spec.description_vi} / {spec.description_en}",
        "itemType": "feature", "crs": [CRS84], "storageCrs": CRS84,
        "links": [_link(base, "self", JSON, spec.title_vi),
                  _link(f"{base}/items", "items", GEOJSON, f"{spec.title_vi} / {spec.title_en}")]}
    if ext is not None:
        out["extent"] = ext
    return out


def _page_links(href: str, q: ItemQuery, returned: int, matched: int) -> list[dict[str, str]]:
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("offset", "limit")]

    def at(offset: int) -> str:
        return f"{href}?{urlencode(kept + [('limit', q.limit), ('offset', offset)])}"

    links = [_link(at(q.offset), "self", GEOJSON), _link(href.rsplit("/items", 1)[0], "collection", JSON)]
    if q.offset + returned < matched:
        links.append(_link(at(q.offset + q.limit), "next", GEOJSON))
    if q.offset > 0:
        links.append(_link(at(max(0, q.offset - q.limit)), "prev", GEOJSON))
    return links


_SCHEMA = {FieldType.TEXT: {"type": "string"}, FieldType.INTEGER: {"type": "integer"},
           FieldType.NUMBER: {"type": "number"}, FieldType.DATE: {"type": "string", "format": "date"},
           FieldType.BOOLEAN: {"type": "boolean"}}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False,
           **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description,
            **extra}


COMMON_ITEM_PARAMS = [
    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
           "Số đối tượng tối đa / maximum number of features", style="form", explode=False),
    _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "Bỏ qua / features to skip"),
    _param("bbox", "query", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
           "minx,miny,maxx,maxy (CRS84)", style="form", explode=False),
    _param("datetime", "query", {"type": "string"}, "Thời điểm cập nhật / last update (updated_at): "
           "instant or interval a/b, ../b, a/..", style="form", explode=False),
    _param("f", "query", {"type": "string", "enum": ["json"], "default": "json"}, "Định dạng / format"),
]
_ERR = {"description": "Tham số không hợp lệ / invalid parameter (message in Vietnamese and English)",
        "content": {JSON: {"schema": {"type": "object"}}}}
_NOT_FOUND = {"description": "Không tìm thấy / not found (or not visible to this user)"}


def _items_path(spec: LayerSpec) -> dict[str, Any]:
    filters = [_param(f.name, "query", _SCHEMA[f.type], f"{f.title_vi} / {f.title_en} (bằng / equals)")
               for f in spec.fields]
    return {"get": {
        "summary": f"{spec.title_vi} / {spec.title_en}", "operationId": f"getItems_{spec.name}",
        "tags": [spec.name], "parameters": COMMON_ITEM_PARAMS + filters,
        "responses": {"200": {"description": "GeoJSON FeatureCollection",
                              "content": {GEOJSON: {"schema": {"type": "object"}}}},
                      "400": _ERR}}}


def _get(summary: str, op: str, params: list[dict[str, Any]] | None = None,
         mtype: str = JSON) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": op, "parameters": params or [],
                    "responses": {"200": {"description": summary, "content": {mtype: {"schema": {"type": "object"}}}},
                                  "400": _ERR, "404": _NOT_FOUND}}}


def openapi(visible: list[str]) -> dict[str, Any]:
    """OpenAPI 3.0 of this API as the current user sees it (only the collections this user may read)."""
    cid = _param("collectionId", "path", {"type": "string", "enum": visible}, "Lớp dữ liệu / collection", True)
    fid = _param("featureId", "path", {"type": "integer"}, "Mã đối tượng / feature id", True)
    paths: dict[str, Any] = {
        "/": _get("Trang đầu / landing page", "getLandingPage"),
        "/conformance": _get("Các lớp tuân thủ / conformance classes", "getConformance"),
        "/api": _get("Mô tả API / this document", "getApi", mtype=OPENAPI),
        "/collections": _get("Các lớp dữ liệu / collections", "getCollections"),
        "/collections/{collectionId}": _get("Một lớp / one collection", "describeCollection", [cid]),
        "/collections/{collectionId}/items/{featureId}": _get("Một đối tượng / one feature", "getFeature",
                                                              [cid, fid], GEOJSON),
    }
    for name in visible:
        paths[f"/collections/{name}/items"] = _items_path(REGISTRY.get(name))
    return {"openapi": "3.0.3",
            "info": {"title": "Lớp dữ liệu TN&MT / Environment layers — former Bình Dương (OGC API – Features)",
                     "version": "1.0.0",
                     "description": "OGC API – Features Part 1 (Core, GeoJSON). Nhân viên đăng nhập thấy thêm lớp "
                                    "nội bộ / staff who log in see internal layers too."},
            "servers": [{"url": _base()}], "paths": paths}


def _landing() -> dict[str, Any]:
    base = _base()
    return {"title": "Lớp dữ liệu TN&MT / Environment layers — former Bình Dương",
            "description": "OGC API – Features: các lớp dữ liệu bạn được phép xem / the layers you may see",
            "links": [_link(f"{base}/", "self", JSON, "Trang này / this document"),
                      _link(f"{base}/api", "service-desc", OPENAPI, "OpenAPI 3.0"),
                      _link(f"{base}/api?f=html", "service-doc", "text/html", "Tài liệu API / API documentation"),
                      _link(f"{base}/conformance", "conformance", JSON, "Các lớp tuân thủ / conformance"),
                      _link(f"{base}/collections", "data", JSON, "Các lớp dữ liệu / collections")]}


def _api_html(doc: dict[str, Any]) -> Response:
    rows = "".join(f"<li><code>GET {escape(doc['servers'][0]['url'] + path)}</code> — "
                   f"{escape(op['get']['summary'])}</li>" for path, op in doc["paths"].items())
    html = (f"<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{escape(doc['info']['title'])}"
            f"</title></head><body><h1>{escape(doc['info']['title'])}</h1><p>{escape(doc['info']['description'])}"
            f"</p><ul>{rows}</ul></body></html>")
    return Response(html, mimetype="text/html")


def _features(name: str) -> Response:
    actx = _ctx()
    auth.require_layer(actx, name)
    _format(("json", "geojson"))
    spec = REGISTRY.get(name)
    q = _item_query(spec)
    feats, matched = items(_engine_for(name), spec, q)
    href = f"{_base()}/collections/{name}/items"
    body = {"type": "FeatureCollection", "features": feats, "numberMatched": matched,
            "numberReturned": len(feats), "timeStamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "links": _page_links(href, q, len(feats), matched)}
    return _respond(body, GEOJSON)


def _feature(name: str, fid: str) -> Response:
    actx = _ctx()
    auth.require_layer(actx, name)
    _format(("json", "geojson"))
    if not fid.isdigit() or not 0 < int(fid) <= MAX_FID:
        raise ApiError(404, "api.error.not_found")
    found = item(_engine_for(name), REGISTRY.get(name), int(fid))
    if found is None:
        raise ApiError(404, "api.error.not_found")
    base = f"{_base()}/collections/{name}"
    found["links"] = [_link(f"{base}/items/{fid}", "self", GEOJSON), _link(base, "collection", JSON)]
    return _respond(found, GEOJSON)


def blueprint() -> Blueprint:
    bp = Blueprint("ogc", __name__, url_prefix=PREFIX)

    @bp.errorhandler(ApiError)
    def on_error(err: ApiError) -> Response:
        return _respond(err.body, status=err.status)

    @bp.errorhandler(404)
    def on_not_found(_: Exception) -> Response:
        # Unknown and not-visible collections get this same body: nothing says the layer exists.
        return _respond(ApiError(404, "api.error.not_found").body, status=404)

    @bp.get("", strict_slashes=False)
    @bp.get("/")
    def landing() -> Response:
        if _format(("json", "html")) == "html":
            return _api_html(openapi(auth.visible_layers(_ctx())))
        return _respond(_landing())

    @bp.get("/api")
    def api_doc() -> Response:
        doc = openapi(auth.visible_layers(_ctx()))
        return _api_html(doc) if _format(("json", "html")) == "html" else _respond(doc, OPENAPI)

    @bp.get("/conformance")
    def conformance() -> Response:
        _format()
        return _respond({"conformsTo": CONFORMANCE})

    @bp.get("/collections")
    def collections() -> Response:
        _format()
        visible = auth.visible_layers(_ctx())
        return _respond({"links": [_link(f"{_base()}/collections", "self", JSON)],
                         "collections": [_collection(REGISTRY.get(n)) for n in visible]})

    @bp.get("/collections/<name>")
    def collection(name: str) -> Response:
        auth.require_layer(_ctx(), name)
        _format()
        return _respond(_collection(REGISTRY.get(name)))

    bp.add_url_rule("/collections/<name>/items", "items", _features, methods=["GET"])
    bp.add_url_rule("/collections/<name>/items/<fid>", "item", _feature, methods=["GET"])
    return bp
