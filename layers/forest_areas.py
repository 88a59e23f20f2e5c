"""Forest polygons by type (special-use, protection, production, plantation), origin and year."""
from __future__ import annotations

from layers.fields import I, N, T, code, name_vi, notes, operator, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec

SPEC = LayerSpec(
    name="forest_areas",
    title_vi="Rừng và đất lâm nghiệp",
    title_en="Forest areas",
    description_vi="Lô rừng theo loại (đặc dụng, phòng hộ, sản xuất, rừng trồng), nguồn gốc và năm.",
    description_en="Forest stands by type (special-use, protection, production, plantation), origin and year.",
    themes=(12,),
    geometry=(GeometryKind.POLYGON,),
    fields=(
        code(),
        name_vi(required=False),
        FieldSpec("forest_type", T, "Loại rừng", "Forest type", required=True,
                  allowed=("special_use", "protection", "production", "plantation"), aliases=("loai_rung",)),
        FieldSpec("origin", T, "Nguồn gốc", "Origin", allowed=("natural", "planted"), aliases=("nguon_goc",)),
        FieldSpec("year", I, "Năm (trồng/kiểm kê)", "Year (planted/inventoried)", minimum=1900, maximum=2100,
                  aliases=("nam",)),
        FieldSpec("area_declared_ha", N, "Diện tích theo hồ sơ (ha)", "Recorded area (ha)", minimum=0,
                  unit="ha", aliases=("dien_tich",)),
        operator(),
        source(),
        notes(),
    ),
    natural_key=("code",),
    access=AccessLevel.INTERNAL,
    style={"color": "#006d2c", "fill": "#74c476"},
)
