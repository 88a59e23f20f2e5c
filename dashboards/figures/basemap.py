"""The basemap setting: a real MapLibre style for users, an inline blank style (no network) for tests/offline."""
from __future__ import annotations

from typing import Any

# A complete MapLibre style that fetches nothing. Its one source is an empty inline GeoJSON: plotly drops an
# empty ``sources`` object when it re-applies the style on a figure update, MapLibre then rejects the style and
# every later update of that map is silently lost.
BLANK_STYLE: dict[str, Any] = {
    "version": 8,
    "name": "blank",
    "sources": {"empty": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
    "layers": [{"id": "background", "type": "background", "paint": {"background-color": "#eef2f0"}}],
}


def map_style(basemap: str) -> str | dict[str, Any]:
    return BLANK_STYLE if basemap == "blank" else basemap
