"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json)."""
from __future__ import annotations

from typing import Any


def _param(name: str, where: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


CODE = _param("code", "path", {"type": "string"}, "Station code (monitoring_stations.code)", True)
SCHEME = _param("scheme", "query", {"type": "string", "enum": ["vn", "us"], "default": "vn"},
                "Index scheme: VN_AQI (Decision 1459/QĐ-TCMT) or US EPA AQI (2024)")
FORMAT = _param("format", "query", {"type": "string", "enum": ["json", "csv"], "default": "json"}, "Output format")
START = _param("start", "query", {"type": "string"}, "ISO 8601 date/time (no offset = Asia/Ho_Chi_Minh); "
               "default: end − 7 days")
END = _param("end", "query", {"type": "string"}, "ISO 8601 date/time; default: the top of the next hour")
ERROR = {"description": "Invalid parameter (message in Vietnamese and English)",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
NOT_FOUND = {"description": "Unknown station", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, geojson: bool = False) -> dict:
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": "#/components/schemas/Table"}},
                               "text/csv": {"schema": {"type": "string"}}}
    if geojson:
        content["application/geo+json"] = {"schema": {"type": "object"}}
    return {"description": description, "content": content}


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dữ liệu chất lượng không khí mở / Open air-quality data — former Bình Dương",
                 "version": "1.0.0",
                 "description": "Raw concentrations and the indices derived from them. Times are ISO 8601; "
                                "hourly values are labelled by the END of the hour."},
        "paths": {
            "/api/v1/stations": {"get": {
                "summary": "Air stations with their current index", "operationId": "listStations",
                "parameters": [SCHEME, _param("format", "query", {"type": "string", "enum": ["json", "geojson",
                                                                                            "csv"]}, "Output format")],
                "responses": {"200": _ok("Stations; aqi is null when there is no current value", True),
                              "400": ERROR}}},
            "/api/v1/stations/{code}/measurements": {"get": {
                "summary": "Raw readings of a station", "operationId": "stationMeasurements",
                "parameters": [CODE, START, END, FORMAT, _param("parameter", "query", {"type": "string"},
                                                                "Comma-separated parameter codes, e.g. pm25,no2")],
                "responses": {"200": _ok("Readings (empty list when none)"), "400": ERROR, "404": NOT_FOUND}}},
            "/api/v1/stations/{code}/aqi/hourly": {"get": {
                "summary": "Hourly index of a station", "operationId": "stationHourlyAqi",
                "parameters": [CODE, SCHEME, START, END, FORMAT],
                "responses": {"200": _ok("Hourly index"), "400": ERROR, "404": NOT_FOUND}}},
            "/api/v1/stations/{code}/aqi/daily": {"get": {
                "summary": "Daily index of a station", "operationId": "stationDailyAqi",
                "parameters": [CODE, SCHEME, START, END, FORMAT],
                "responses": {"200": _ok("Daily index"), "400": ERROR, "404": NOT_FOUND}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "vi": {"type": "string"}, "en": {"type": "string"}}}}},
            "Table": {"type": "object", "properties": {"count": {"type": "integer"},
                                                       "data": {"type": "array", "items": {"type": "object"}}}},
        }},
    }
