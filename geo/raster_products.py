"""Raster product definitions (classes, forest rule), read from geo/data/raster_products.yaml."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from geo.raster_errors import ProductError

PRODUCTS_FILE = Path(__file__).with_name("data") / "raster_products.yaml"


@dataclass(frozen=True)
class RasterProduct:
    """A product: class maps say which class values are forest; percent rasters use a canopy threshold."""

    name: str
    title_vi: str
    title_en: str
    kind: str                                  # 'classes' | 'percent'
    classes: dict[int, dict[str, str]] = field(default_factory=dict)
    forest_classes: tuple[int, ...] = ()
    threshold_pct: float | None = None

    def forest_mask(self, values: np.ndarray) -> np.ndarray:
        """True where a pixel counts as forest / tree cover."""
        if self.kind == "percent":
            return values >= self.threshold_pct
        return np.isin(values, self.forest_classes)

    def forest_rule(self) -> dict[str, object]:
        """The rule as stored in the catalogue (so a result can be traced to the definition in force)."""
        if self.kind == "percent":
            return {"kind": "percent", "threshold_pct": self.threshold_pct}
        return {"kind": "classes", "forest_classes": list(self.forest_classes)}

    def with_threshold(self, threshold_pct: float | None) -> RasterProduct:
        """A copy with another canopy threshold (percent products only)."""
        if threshold_pct is None:
            return self
        if self.kind != "percent":
            raise ProductError(f"ngưỡng chỉ dùng cho sản phẩm phần trăm / a threshold applies only to percent "
                               f"products, not to {self.name}")
        return RasterProduct(self.name, self.title_vi, self.title_en, self.kind, self.classes, (), threshold_pct)


def _parse(name: str, raw: dict) -> RasterProduct:
    try:
        kind = raw["kind"]
        classes = {int(k): {"vi": str(v["vi"]), "en": str(v["en"])} for k, v in raw["classes"].items()}
        if kind == "classes":
            forest = tuple(int(c) for c in raw["forest_classes"])
            unknown = set(forest) - set(classes)
            if unknown:
                raise ProductError(f"{PRODUCTS_FILE.name}: {name}: forest classes {sorted(unknown)} not in classes")
            return RasterProduct(name, raw["title_vi"], raw["title_en"], kind, classes, forest)
        if kind == "percent":
            return RasterProduct(name, raw["title_vi"], raw["title_en"], kind, classes,
                                 threshold_pct=float(raw["threshold_pct"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProductError(f"{PRODUCTS_FILE.name}: {name}: định nghĩa sai / malformed definition ({exc})") from exc
    raise ProductError(f"{PRODUCTS_FILE.name}: {name}: kind must be 'classes' or 'percent', got {kind!r}")


@lru_cache(maxsize=1)
def products() -> dict[str, RasterProduct]:
    """All products of the data file, by name."""
    raw = yaml.safe_load(PRODUCTS_FILE.read_text(encoding="utf-8"))
    return {name: _parse(name, spec) for name, spec in raw.items()}


def get_product(name: str) -> RasterProduct:
    """One product; the error names the known ones."""
    known = products()
    if name not in known:
        raise ProductError(f"Không có sản phẩm raster '{name}' / unknown raster product '{name}' "
                           f"(known: {', '.join(sorted(known))})")
    return known[name]
