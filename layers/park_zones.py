"""Land-use zones inside industrial parks (green space, roads, shared infrastructure, WWTP...)."""
from __future__ import annotations

from layers.fields import T, name_vi, notes, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec

ZONE_TYPES = ("green_space", "road", "shared_infrastructure", "factory", "wwtp", "warehouse",
              "administration", "residential_service", "water_surface", "other")

SPEC = LayerSpec(
    name="park_zones",
    title_vi="Phân khu chức năng trong KCN",
    title_en="Industrial-park land-use zones",
    description_vi="Các khu đất theo quy hoạch chi tiết: cây xanh, giao thông, hạ tầng dùng chung, nhà máy, trạm xử lý nước thải…",
    description_en="Zones of the detailed park plans: green space, roads, shared infrastructure, factories, WWTP…",
    themes=(9, 12),
    geometry=(GeometryKind.POLYGON,),
    fields=(
        FieldSpec("park_code", T, "Mã KCN", "Park code", required=True, aliases=("ma_kcn",)),
        FieldSpec("zone_code", T, "Mã phân khu", "Zone code", required=True, aliases=("ma_khu", "code")),
        FieldSpec("zone_type", T, "Loại đất", "Zone type", required=True, allowed=ZONE_TYPES,
                  aliases=("loai_dat", "type")),
        name_vi(required=False),
        source(),
        notes(),
    ),
    natural_key=("park_code", "zone_code"),
    access=AccessLevel.INTERNAL,
    style={"color": "#1a9641", "fill": "#a6d96a"},
)
