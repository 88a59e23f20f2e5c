"""Polluted-land inventory: polygons or points with a status that moves only along allowed transitions."""
from __future__ import annotations

from layers.fields import D, N, T, code, name_vi, notes, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec

STATUSES = ("suspected", "investigated", "confirmed", "remediation_planned", "under_remediation",
            "remediated", "closed")

# Investigation may clear a suspicion (investigated -> closed); otherwise the chain is linear.
TRANSITIONS = {
    "suspected": ("investigated", "closed"),
    "investigated": ("confirmed", "closed"),
    "confirmed": ("remediation_planned",),
    "remediation_planned": ("under_remediation",),
    "under_remediation": ("remediated",),
    "remediated": ("closed",),
    "closed": (),
}

SPEC = LayerSpec(
    name="polluted_sites",
    title_vi="Khu vực ô nhiễm đất",
    title_en="Polluted sites",
    description_vi="Danh mục khu vực đất bị ô nhiễm/tồn lưu: nhóm chất ô nhiễm, mức độ, nguồn gây ô nhiễm, tình trạng xử lý.",
    description_en="Inventory of polluted or residually polluted land: pollutant group, severity, source, remediation status.",
    themes=(15,),
    geometry=(GeometryKind.POLYGON, GeometryKind.POINT),
    fields=(
        code(),
        name_vi(required=False),
        FieldSpec("pollutant_group", T, "Nhóm chất ô nhiễm", "Pollutant group", required=True,
                  allowed=("heavy_metals", "pesticides", "petroleum_hydrocarbons", "pops_dioxin",
                           "solid_waste", "chlorinated_solvents", "other"), aliases=("nhom_chat",)),
        FieldSpec("severity", T, "Mức độ", "Severity", allowed=("low", "medium", "high", "very_high"),
                  aliases=("muc_do",)),
        FieldSpec("pollution_source", T, "Nguồn gây ô nhiễm", "Pollution source",
                  allowed=("industrial", "agricultural", "landfill", "mining", "military", "unknown"),
                  aliases=("nguon_o_nhiem",)),
        FieldSpec("status", T, "Tình trạng", "Status", required=True, allowed=STATUSES,
                  aliases=("tinh_trang", "trang_thai")),
        FieldSpec("status_changed_on", D, "Ngày đổi tình trạng", "Status changed on"),
        FieldSpec("area_declared_ha", N, "Diện tích theo hồ sơ (ha)", "Recorded area (ha)", minimum=0, unit="ha"),
        source(),
        notes(),
    ),
    natural_key=("code",),
    access=AccessLevel.RESTRICTED,
    style={"color": "#d7191c", "fill": "#fdae61"},
    transitions={"status": TRANSITIONS},
)
