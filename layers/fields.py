"""Field definitions shared by several layer families (code, names, operator...)."""
from __future__ import annotations

from layers.spec import FieldSpec, FieldType

T, I, N, D, B = FieldType.TEXT, FieldType.INTEGER, FieldType.NUMBER, FieldType.DATE, FieldType.BOOLEAN


def code(required: bool = True) -> FieldSpec:
    return FieldSpec("code", T, "Mã", "Code", required=required, aliases=("ma", "id", "ma_so"))


def name_vi(required: bool = True) -> FieldSpec:
    return FieldSpec("name_vi", T, "Tên", "Name (Vietnamese)", required=required,
                     aliases=("name", "ten", "ten_vi"))


def name_en() -> FieldSpec:
    return FieldSpec("name_en", T, "Tên tiếng Anh", "Name (English)", aliases=("ten_en", "nameen"))


def operator() -> FieldSpec:
    return FieldSpec("operator", T, "Đơn vị vận hành", "Operator", aliases=("don_vi_van_hanh",))


def source() -> FieldSpec:
    return FieldSpec("source", T, "Nguồn dữ liệu", "Data source", aliases=("nguon",))


def notes() -> FieldSpec:
    return FieldSpec("notes", T, "Ghi chú", "Notes", aliases=("ghi_chu",))
