"""Rivers and canals (lines), lakes and reservoirs (polygons)."""
from __future__ import annotations

import pandas as pd

from layers.fields import T, code, name_en, name_vi, notes, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec, RowCheck

LINEAR_KINDS = ("river", "canal", "stream")
AREAL_KINDS = ("lake", "reservoir", "pond")


def _geometry_matches_kind(df: pd.DataFrame) -> pd.Series:
    """Rivers must be lines and lakes polygons: a lake drawn as a line is a data error."""
    line_wrong = df["kind"].isin(LINEAR_KINDS) & (df["geom_type"] != GeometryKind.LINE.value)
    poly_wrong = df["kind"].isin(AREAL_KINDS) & (df["geom_type"] != GeometryKind.POLYGON.value)
    out = pd.Series([None] * len(df), index=df.index, dtype=object)
    out[line_wrong] = "a river/canal/stream must be a line"
    out[poly_wrong] = "a lake/reservoir/pond must be a polygon"
    return out


SPEC = LayerSpec(
    name="water_bodies",
    title_vi="Sông, kênh, hồ",
    title_en="Water bodies",
    description_vi="Sông, kênh, suối (đường) và hồ, hồ chứa, ao (vùng).",
    description_en="Rivers, canals and streams (lines); lakes, reservoirs and ponds (polygons).",
    themes=(15,),
    geometry=(GeometryKind.LINE, GeometryKind.POLYGON),
    fields=(
        code(),
        name_vi(),
        name_en(),
        FieldSpec("kind", T, "Loại", "Kind", required=True, allowed=LINEAR_KINDS + AREAL_KINDS,
                  aliases=("loai",)),
        FieldSpec("basin", T, "Lưu vực", "Basin", aliases=("luu_vuc",)),
        source(),
        notes(),
    ),
    natural_key=("code",),
    access=AccessLevel.PUBLIC,
    style={"color": "#0571b0", "fill": "#92c5de"},
    row_checks=(RowCheck("kind", _geometry_matches_kind),),
)
