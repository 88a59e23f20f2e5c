"""The basemap setting: a real MapLibre style for users, an inline blank style (no network) for tests/offline."""
from __future__ import annotations

from typing import Any

# A complete MapLibre style with no sources: the map draws, nothing is fetched.
BLANK_STYLE: dict[str, Any] = {
    "version": 8,
    "name": "blank",
    "sources": {},
    "layers": [{"id": "background", "type": "background", "paint": {"background-color": "#eef2f0"}}],
}


def map_style(basemap: str) -> str | dict[str, Any]:
    return BLANK_STYLE if basemap == "blank" else basemap
