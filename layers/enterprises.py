"""Enterprises located in industrial parks: sector, workers, cleaner production, social rules, eco certificate."""
from __future__ import annotations

from layers.fields import B, D, I, T, code, name_en, name_vi, notes, source
from layers.spec import AccessLevel, FieldSpec, GeometryKind, LayerSpec

SECTORS = ("electronics", "textiles_garments", "footwear_leather", "wood_furniture", "food_beverage",
           "chemicals_plastics", "metals_machinery", "paper_packaging", "building_materials", "logistics",
           "utilities_services", "other")


def _flag(name: str, vi: str, en: str, *aliases: str) -> FieldSpec:
    return FieldSpec(name, B, vi, en, aliases=aliases)


SPEC = LayerSpec(
    name="enterprises",
    title_vi="Doanh nghiệp trong KCN",
    title_en="Enterprises in industrial parks",
    description_vi="Doanh nghiệp hoạt động trong KCN: ngành, số lao động, sản xuất sạch hơn (RECP), công khai thông tin, "
                   "quy chế giải quyết khiếu nại, bình đẳng giới, chống quấy rối; giấy chứng nhận doanh nghiệp sinh thái.",
    description_en="Enterprises operating in industrial parks: sector, workers, resource-efficient and cleaner production "
                   "(RECP), disclosure, grievance rules, gender equality, anti-harassment; eco-enterprise certificate.",
    themes=(9,),
    geometry=(GeometryKind.POINT,),
    fields=(
        code(),
        name_vi(),
        name_en(),
        FieldSpec("park_code", T, "Mã KCN", "Park code", required=True, aliases=("ma_kcn",)),
        FieldSpec("sector", T, "Ngành", "Sector", allowed=SECTORS, aliases=("nganh",)),
        FieldSpec("workers", I, "Số lao động", "Workers", minimum=0, aliases=("so_lao_dong", "lao_dong")),
        _flag("recp_aware", "Biết về sản xuất sạch hơn (RECP)", "Aware of RECP", "biet_recp"),
        _flag("recp_applied", "Áp dụng sản xuất sạch hơn (RECP)", "Applies RECP", "ap_dung_recp", "recp"),
        _flag("symbiosis_plan", "Có kế hoạch tham gia cộng sinh", "Plans to join symbiosis", "ke_hoach_cong_sinh"),
        _flag("discloses_information", "Công khai thông tin", "Discloses information", "cong_khai"),
        _flag("has_grievance_rules", "Có quy chế giải quyết khiếu nại", "Has grievance rules", "quy_che_khieu_nai"),
        _flag("gender_equality", "Bình đẳng giới (BHXH, ATVSLĐ, đào tạo RECP)",
              "Gender equality (social security, OHS, RECP training)", "binh_dang_gioi"),
        _flag("anti_harassment", "Quy định chống quấy rối, phân biệt đối xử", "Anti-harassment rules",
              "chong_quay_roi"),
        FieldSpec("eco_certificate_no", T, "Số giấy chứng nhận DN sinh thái", "Eco-enterprise certificate no.",
                  aliases=("so_gcn_sinh_thai",)),
        FieldSpec("eco_certificate_on", D, "Ngày cấp giấy chứng nhận DN sinh thái", "Eco-enterprise certificate date",
                  aliases=("ngay_gcn_sinh_thai", "eco_certificate_date")),
        FieldSpec("eco_certificate_body", T, "Cơ quan cấp giấy chứng nhận", "Certificate issued by",
                  aliases=("co_quan_cap",)),
        source(),
        notes(),
    ),
    natural_key=("code",),
    # Restricted: records about named firms (workforce, compliance) stay with the environment department and
    # administrators, as geo.access says; the industrial-parks authority sees the park aggregates computed from
    # them (shares, counts) on the eco-park pages, and names only if an administrator lowers this level.
    access=AccessLevel.RESTRICTED,
    style={"color": "#5e3c99", "symbol": "square"},
)
