"""Monitoring stations (air, water, wastewater, stack emission), automatic or periodic."""
from __future__ import annotations

from layers.fields import D, T, code, name_en, name_vi, notes, operator, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec

SPEC = LayerSpec(
    name="monitoring_stations",
    title_vi="Trạm/điểm quan trắc",
    title_en="Monitoring stations",
    description_vi="Trạm quan trắc không khí, nước mặt, nước dưới đất, nước thải và khí thải; tự động hoặc định kỳ.",
    description_en="Air, surface-water, groundwater, wastewater and stack-emission monitoring points; automatic or periodic.",
    themes=(14, 15),
    geometry=(GeometryKind.POINT,),
    fields=(
        code(),
        name_vi(),
        name_en(),
        FieldSpec("medium", T, "Thành phần môi trường", "Medium", required=True,
                  allowed=("air", "surface_water", "groundwater", "wastewater", "stack_emission"),
                  aliases=("thanh_phan", "loai")),
        FieldSpec("mode", T, "Hình thức", "Mode", required=True, allowed=("automatic", "periodic"),
                  aliases=("hinh_thuc",)),
        operator(),
        FieldSpec("status", T, "Trạng thái", "Status", required=True,
                  allowed=("planned", "active", "inactive", "decommissioned"), aliases=("trang_thai",)),
        FieldSpec("park_code", T, "Mã KCN (nếu trong KCN)", "Park code (if inside a park)", aliases=("ma_kcn",)),
        FieldSpec("commissioned_on", D, "Ngày vận hành", "Commissioned on", aliases=("ngay_van_hanh",)),
        source(),
        notes(),
    ),
    natural_key=("code",),
    access=AccessLevel.PUBLIC,
    style={"color": "#2b83ba", "symbol": "circle"},
)
