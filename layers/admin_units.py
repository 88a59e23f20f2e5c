"""Administrative units with validity periods (codes repeat across boundary versions)."""
from __future__ import annotations

import pandas as pd

from layers.fields import D, T, code, name_en, name_vi, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec, RowCheck


def _period_is_ordered(df: pd.DataFrame) -> pd.Series:
    bad = df["valid_to"].notna() & df["valid_from"].notna() & (df["valid_to"] <= df["valid_from"])
    return pd.Series(bad.map({True: "valid_to must be after valid_from", False: None}), index=df.index)


SPEC = LayerSpec(
    name="admin_units",
    title_vi="Đơn vị hành chính",
    title_en="Administrative units",
    description_vi="Tỉnh/thành, huyện và xã/phường với thời gian hiệu lực; mã có thể lặp lại giữa các phiên bản.",
    description_en="Provinces, districts and communes/wards with their validity period; codes repeat across versions.",
    themes=(15,),
    geometry=(GeometryKind.POLYGON,),
    fields=(
        FieldSpec("level", T, "Cấp", "Level", required=True,
                  allowed=("province", "district", "commune"), aliases=("cap",)),
        code(),
        name_vi(),
        name_en(),
        FieldSpec("parent_code", T, "Mã đơn vị cấp trên", "Parent unit code", aliases=("ma_cap_tren",)),
        FieldSpec("valid_from", D, "Hiệu lực từ", "Valid from", required=True, aliases=("hieu_luc_tu",)),
        FieldSpec("valid_to", D, "Hiệu lực đến (không gồm)", "Valid until (exclusive)", aliases=("hieu_luc_den",)),
        source(),
    ),
    natural_key=("level", "code", "valid_from"),
    access=AccessLevel.PUBLIC,
    style={"color": "#555555", "fill": "none"},
    row_checks=(RowCheck("valid_to", _period_is_ordered),),
)
