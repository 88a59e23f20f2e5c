"""What a layer family is: its fields, geometry, natural key, access level, theme, texts and rules."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import pandas as pd


class AccessLevel(StrEnum):
    """Who may see a layer by default (an administrator may override per layer)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"


class GeometryKind(StrEnum):
    """Geometry families; lines and polygons are stored as Multi* types, points as Point."""

    POINT = "Point"
    LINE = "MultiLineString"
    POLYGON = "MultiPolygon"


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"

    @property
    def sql(self) -> str:
        """PostgreSQL column type for this field type."""
        return {"text": "text", "integer": "bigint", "number": "double precision",
                "date": "date", "boolean": "boolean"}[self.value]


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a layer family."""

    name: str
    type: FieldType
    title_vi: str
    title_en: str
    required: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    aliases: tuple[str, ...] = ()


# A row rule gets the checked attribute table (+ a 'geom_type' column) and returns, per row,
# a reason string where the row breaks the rule and None/NaN where it is fine.
RowRule = Callable[[pd.DataFrame], "pd.Series[str | None]"]


@dataclass(frozen=True)
class RowCheck:
    """A cross-field rule with the field it is reported against."""

    field: str
    rule: RowRule


@dataclass(frozen=True)
class LayerSpec:
    """Everything the platform knows about one layer family; the single source read by every part."""

    name: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    themes: tuple[int, ...]
    geometry: tuple[GeometryKind, ...]
    fields: tuple[FieldSpec, ...]
    natural_key: tuple[str, ...]
    access: AccessLevel
    style: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    transitions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(
        default_factory=lambda: MappingProxyType({}))
    row_checks: tuple[RowCheck, ...] = ()

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate field names")
        missing = [k for k in self.natural_key if k not in names]
        if missing:
            raise ValueError(f"{self.name}: natural key fields {missing} are not fields")
        for key in self.natural_key:
            if not self.field(key).required:
                raise ValueError(f"{self.name}: natural key field {key} must be required")
        for fname, table in self.transitions.items():
            allowed = set(self.field(fname).allowed or ())
            for src, dsts in table.items():
                if src not in allowed or not set(dsts) <= allowed:
                    raise ValueError(f"{self.name}: transitions of {fname} use unknown values")

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def table(self) -> str:
        """The PostGIS table holding this family (one table per family, same name)."""
        return self.name

    @property
    def geometry_sql(self) -> str:
        """The PostGIS geometry column type: exact when one kind, generic when several."""
        return self.geometry[0].value if len(self.geometry) == 1 else "Geometry"

    @property
    def is_polygonal(self) -> bool:
        return GeometryKind.POLYGON in self.geometry

    @property
    def is_lineal(self) -> bool:
        return GeometryKind.LINE in self.geometry

    @property
    def derived_columns(self) -> tuple[str, ...]:
        """Columns the platform computes from the geometry (in a metric CRS)."""
        cols: list[str] = []
        if self.is_polygonal:
            cols.append("area_ha")
        if self.is_lineal:
            cols.append("length_m")
        return tuple(cols)

    def allowed_transition(self, field_name: str, old: str, new: str) -> bool:
        """Whether a feature's status may move from ``old`` to ``new`` (staying put is allowed)."""
        if old == new or field_name not in self.transitions:
            return True
        return new in self.transitions[field_name].get(old, ())

    def alias_map(self) -> dict[str, str]:
        """Lower-cased alternative column names → field name (the field's own name included)."""
        out: dict[str, str] = {}
        for f in self.fields:
            for alias in (f.name, *f.aliases):
                out[alias.lower()] = f.name
        return out
