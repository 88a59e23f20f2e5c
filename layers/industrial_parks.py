"""Industrial parks: boundaries with declared and computed area, developer, status."""
from __future__ import annotations

from layers.fields import D, N, T, code, name_en, name_vi, notes, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec

SPEC = LayerSpec(
    name="industrial_parks",
    title_vi="Khu công nghiệp",
    title_en="Industrial parks",
    description_vi="Ranh giới khu công nghiệp, chủ đầu tư, diện tích công bố và diện tích tính từ bản đồ, tỷ lệ lấp đầy.",
    description_en="Industrial-park boundaries, developer, declared and mapped area, occupancy and status.",
    themes=(9,),
    geometry=(GeometryKind.POLYGON,),
    fields=(
        code(),
        name_vi(),
        name_en(),
        FieldSpec("developer", T, "Chủ đầu tư hạ tầng", "Infrastructure developer", aliases=("chu_dau_tu",)),
        FieldSpec("area_declared_ha", N, "Diện tích công bố (ha)", "Declared area (ha)", minimum=0,
                  unit="ha", aliases=("dien_tich", "area_ha_declared", "area_ha")),
        FieldSpec("established_on", D, "Ngày thành lập", "Established on", aliases=("ngay_thanh_lap",)),
        FieldSpec("occupancy_pct", N, "Tỷ lệ lấp đầy (%)", "Occupancy (%)", minimum=0, maximum=100,
                  unit="%", aliases=("ty_le_lap_day", "occupancy")),
        FieldSpec("operating_status", T, "Tình trạng hoạt động", "Operating status", required=True,
                  allowed=("planned", "under_construction", "operating", "suspended", "closed"),
                  aliases=("status", "tinh_trang")),
        source(),
        notes(),
    ),
    natural_key=("code",),
    access=AccessLevel.PUBLIC,
    style={"color": "#7b3294", "fill": "#c2a5cf"},
)
