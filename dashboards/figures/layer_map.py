"""The department map: every toggled layer as a MapLibre layer, from vector tiles (large) or GeoJSON (small)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import plotly.graph_objects as go

from dashboards.figures.basemap import map_style
from layers.spec import GeometryKind, LayerSpec

# Where the tiles route lives (someone else's route); the app may override it with GEO_TILE_PATH.
DEFAULT_TILE_PATH = "/tiles/{layer}/{z}/{x}/{y}.pbf"
# Above this many features a layer is drawn from vector tiles: GeoJSON would be megabytes per redraw.
LARGE_LAYER = 5_000
CENTRE = {"lon": 106.65, "lat": 11.15}
HIGHLIGHT = "#00e5ff"


@dataclass(frozen=True)
class LayerDraw:
    """One layer as the figure draws it: exactly one of ``geojson`` and ``tile_url`` is set."""

    name: str
    kinds: tuple[GeometryKind, ...]
    colour: str
    fill: str | None
    geojson: dict | None = None
    tile_url: str | None = None


def use_tiles(n_features: int, tiles_base_url: str | None, threshold: int = LARGE_LAYER) -> bool:
    return bool(tiles_base_url) and n_features > threshold


def tile_url(tiles_base_url: str, layer: str, template: str = DEFAULT_TILE_PATH, query: dict | None = None) -> str:
    """The absolute tile URL MapLibre needs (a relative one silently loads nothing)."""
    parts = urlsplit(tiles_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"tile base URL must be absolute, got {tiles_base_url!r}")
    # {z}/{x}/{y} stay as placeholders for MapLibre; only the layer name is filled in here.
    path = template.replace("{layer}", layer)
    url = tiles_base_url.rstrip("/") + "/" + path.lstrip("/")
    return url + ("?" + urlencode(query) if query else "")


def layer_draw(spec: LayerSpec, *, geojson: dict | None = None, tile: str | None = None) -> LayerDraw:
    colour = spec.style.get("color", "#333333")
    fill = spec.style.get("fill")
    return LayerDraw(spec.name, spec.geometry, colour, None if fill in (None, "none") else fill, geojson, tile)


def _split(fc: dict) -> dict[str, dict]:
    """GeoJSON by geometry family: MapLibre's fill, line and circle layers each take one family."""
    out: dict[str, list] = {"polygon": [], "line": [], "point": []}
    for feat in fc.get("features", []):
        kind = (feat.get("geometry") or {}).get("type", "")
        family = "polygon" if "Polygon" in kind else "line" if "LineString" in kind else "point"
        out[family].append(feat)
    return {k: {"type": "FeatureCollection", "features": v} for k, v in out.items() if v}


def _styled(kind: str, draw: LayerDraw, source: dict[str, Any]) -> list[dict]:
    if kind == "polygon":
        layers = [{**source, "type": "line", "color": draw.colour, "line": {"width": 1.5}, "name": draw.name}]
        if draw.fill:
            layers.insert(0, {**source, "type": "fill", "color": draw.fill, "opacity": 0.45, "name": draw.name})
        return layers
    if kind == "line":
        return [{**source, "type": "line", "color": draw.colour, "line": {"width": 2}, "name": draw.name}]
    return [{**source, "type": "circle", "color": draw.colour, "circle": {"radius": 5}, "name": draw.name}]


def map_layers(draw: LayerDraw) -> list[dict]:
    """The MapLibre layers (plotly ``layout.map.layers``) that draw one registry layer."""
    if draw.tile_url:
        source = {"sourcetype": "vector", "source": [draw.tile_url], "sourcelayer": draw.name}
        kinds = {GeometryKind.POLYGON: "polygon", GeometryKind.LINE: "line", GeometryKind.POINT: "point"}
        return [layer for k in draw.kinds for layer in _styled(kinds[k], draw, source)]
    out: list[dict] = []
    for kind, fc in _split(draw.geojson or {}).items():
        out += _styled(kind, draw, {"sourcetype": "geojson", "source": fc})
    return out


def highlight_layers(geometry: dict | None) -> list[dict]:
    if not geometry:
        return []
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": geometry}]}
    draw = LayerDraw("highlight", (), HIGHLIGHT, None, fc)
    out = []
    for kind, part in _split(fc).items():
        style = _styled(kind, draw, {"sourcetype": "geojson", "source": part})
        for layer in style:
            layer.setdefault("line", {})["width"] = 4
        out += style
    return out


def layer_map(draws: list[LayerDraw], basemap: str, highlight: dict | None = None,
              centre: dict | None = None, zoom: float = 9) -> go.Figure:
    """A map with no data traces: layers are MapLibre layers; an empty trace makes plotly create the map."""
    layers = [layer for draw in draws for layer in map_layers(draw)] + highlight_layers(highlight)
    fig = go.Figure([go.Scattermap(lon=[], lat=[], mode="markers", name="dept-anchor", showlegend=False,
                                   hoverinfo="skip")])
    fig.update_layout(map={"style": map_style(basemap), "center": centre or CENTRE, "zoom": zoom,
                           "layers": layers},
                      margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision="dept-map", showlegend=False)
    return fig
