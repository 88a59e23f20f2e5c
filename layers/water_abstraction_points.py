"""Groundwater wells and surface-water intakes with their permitted volume."""
from __future__ import annotations

from layers.fields import D, N, T, code, name_vi, notes, operator, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec

SPEC = LayerSpec(
    name="water_abstraction_points",
    title_vi="Công trình khai thác nước",
    title_en="Water abstraction points",
    description_vi="Giếng khai thác nước dưới đất và công trình thu nước mặt, với lưu lượng được cấp phép.",
    description_en="Groundwater wells and surface-water intakes with their permitted abstraction volume.",
    themes=(15,),
    geometry=(GeometryKind.POINT,),
    fields=(
        code(),
        name_vi(required=False),
        FieldSpec("kind", T, "Loại công trình", "Kind", required=True, allowed=("well", "surface_intake"),
                  aliases=("loai",)),
        FieldSpec("aquifer", T, "Tầng chứa nước / nguồn nước", "Aquifer or source water body",
                  aliases=("tang_chua_nuoc",)),
        FieldSpec("permitted_m3_per_day", N, "Lưu lượng cấp phép (m³/ngày)", "Permitted volume (m³/day)",
                  minimum=0, unit="m3/day", aliases=("luu_luong", "permitted_m3_day")),
        FieldSpec("permit_no", T, "Số giấy phép", "Permit number", aliases=("so_giay_phep",)),
        FieldSpec("permit_valid_to", D, "Giấy phép hết hạn", "Permit valid until"),
        operator(),
        source(),
        notes(),
    ),
    natural_key=("code",),
    access=AccessLevel.INTERNAL,
    style={"color": "#08519c", "symbol": "triangle"},
)
