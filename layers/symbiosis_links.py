"""Industrial-symbiosis links between two enterprises, drawn as a line between their points."""
from __future__ import annotations

import pandas as pd

from layers.fields import D, N, T, code, notes, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec, RowCheck

LINK_TYPES = ("materials", "water", "energy", "waste_scrap", "shared_infrastructure")


def _two_different_ends(df: pd.DataFrame) -> pd.Series:
    """A link joins two enterprises; a firm exchanging with itself is not symbiosis."""
    out = pd.Series([None] * len(df), index=df.index, dtype=object)
    out[df["from_enterprise"].notna() & (df["from_enterprise"] == df["to_enterprise"])] = \
        "một liên kết cần hai doanh nghiệp khác nhau / a link needs two different enterprises"
    return out


def _ends_after_start(df: pd.DataFrame) -> pd.Series:
    out = pd.Series([None] * len(df), index=df.index, dtype=object)
    both = df["started_on"].notna() & df["ended_on"].notna()
    out[both & (df["ended_on"] <= df["started_on"])] = "ended_on phải sau started_on / ended_on must follow started_on"
    return out


SPEC = LayerSpec(
    name="symbiosis_links",
    title_vi="Liên kết cộng sinh công nghiệp",
    title_en="Industrial-symbiosis links",
    description_vi="Trao đổi nguyên vật liệu, nước, năng lượng, chất thải/phế liệu hoặc dùng chung hạ tầng giữa hai "
                   "doanh nghiệp; đường nối hai điểm doanh nghiệp (tạo từ mã doanh nghiệp nếu tệp không có hình học).",
    description_en="Exchange of materials, water, energy, waste/scrap or shared infrastructure between two "
                   "enterprises; a line between their points (built from the enterprise codes when the file has none).",
    themes=(9,),
    geometry=(GeometryKind.LINE,),
    fields=(
        code(),
        FieldSpec("from_enterprise", T, "Doanh nghiệp cung cấp", "From enterprise", required=True,
                  aliases=("tu_doanh_nghiep", "from")),
        FieldSpec("to_enterprise", T, "Doanh nghiệp nhận", "To enterprise", required=True,
                  aliases=("den_doanh_nghiep", "to")),
        FieldSpec("link_type", T, "Loại cộng sinh", "Link type", required=True, allowed=LINK_TYPES,
                  aliases=("loai", "loai_cong_sinh")),
        FieldSpec("started_on", D, "Ngày bắt đầu", "Started on", aliases=("ngay_bat_dau",)),
        FieldSpec("ended_on", D, "Ngày kết thúc", "Ended on", aliases=("ngay_ket_thuc",)),
        FieldSpec("quantity", N, "Khối lượng", "Quantity", minimum=0, aliases=("khoi_luong",)),
        FieldSpec("unit", T, "Đơn vị", "Unit", aliases=("don_vi",)),
        FieldSpec("description", T, "Mô tả", "Description", aliases=("mo_ta",)),
        source(),
        notes(),
    ),
    natural_key=("code",),
    # Restricted like the enterprises it names (see layers/enterprises.py).
    access=AccessLevel.RESTRICTED,
    style={"color": "#e66101"},
    row_checks=(RowCheck("to_enterprise", _two_different_ends), RowCheck("ended_on", _ends_after_start)),
)
