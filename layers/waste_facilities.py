"""Waste treatment plants, landfills (active/closed) and transfer stations, with capacity."""
from __future__ import annotations

import pandas as pd

from layers.fields import D, N, T, code, name_vi, notes, operator, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec, RowCheck


def _landfill_has_status(df: pd.DataFrame) -> pd.Series:
    """A landfill's state (active or closed) is what theme 13 tracks, so it may not be blank."""
    bad = (df["kind"] == "landfill") & df["landfill_status"].isna()
    return pd.Series(bad.map({True: "a landfill needs landfill_status (active/closed)", False: None}),
                     index=df.index)


SPEC = LayerSpec(
    name="waste_facilities",
    title_vi="Cơ sở xử lý chất thải",
    title_en="Waste facilities",
    description_vi="Nhà máy xử lý, lò đốt, bãi chôn lấp (đang hoạt động/đã đóng), trạm trung chuyển, với công suất.",
    description_en="Treatment plants, incinerators, landfills (active/closed) and transfer stations, with capacity.",
    themes=(13,),
    geometry=(GeometryKind.POINT, GeometryKind.POLYGON),
    fields=(
        code(),
        name_vi(),
        FieldSpec("kind", T, "Loại cơ sở", "Kind", required=True,
                  allowed=("treatment_plant", "incinerator", "composting", "landfill", "transfer_station",
                           "hazardous_waste_treatment", "recycling"), aliases=("loai",)),
        FieldSpec("landfill_status", T, "Tình trạng bãi chôn lấp", "Landfill status",
                  allowed=("active", "closed")),
        FieldSpec("waste_streams", T, "Loại chất thải tiếp nhận", "Waste streams accepted",
                  aliases=("loai_chat_thai",)),
        FieldSpec("capacity_t_per_day", N, "Công suất (tấn/ngày)", "Capacity (t/day)", minimum=0,
                  unit="t/day", aliases=("cong_suat", "capacity")),
        FieldSpec("opened_on", D, "Ngày vận hành", "Opened on"),
        FieldSpec("closed_on", D, "Ngày đóng", "Closed on"),
        operator(),
        source(),
        notes(),
    ),
    natural_key=("code",),
    access=AccessLevel.PUBLIC,
    style={"color": "#8c510a", "symbol": "square"},
    row_checks=(RowCheck("landfill_status", _landfill_has_status),),
)
