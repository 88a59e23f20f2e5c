"""The indicator register as data: geo/data/indicators.csv read into checked, immutable records."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from geo.raster_errors import ProductError

REGISTER_FILE = Path(__file__).with_name("data") / "indicators.csv"
GEOGRAPHIES = ("province", "district", "commune", "industrial_park")
DIRECTIONS = ("increase", "decrease", "maintain", "none")
KINDS = ("computed", "reported")


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it means, how it is obtained, its baseline and target with their confidence."""

    indicator_id: str
    theme: str
    title_vi: str
    title_en: str
    unit: str
    definition: str
    computation_kind: str
    computation: str | None
    geographies: tuple[str, ...]
    baseline_value: float | None
    baseline_year: int | None
    baseline_source: str | None
    baseline_confidence: str | None
    target_value: float | None
    target_year: int | None
    target_source: str | None
    target_confidence: str | None
    direction: str
    ceiling: float | None
    notes: str | None

    def as_row(self) -> dict[str, object]:
        return {**self.__dict__, "geographies": list(self.geographies)}


def _opt(v: str) -> str | None:
    return v.strip() or None


def _num(v: str, cast: type) -> float | int | None:
    return cast(v) if v.strip() else None


def _parse(line: int, raw: dict[str, str]) -> Indicator:
    where = f"{REGISTER_FILE.name}, row {line}"
    try:
        geos = tuple(g.strip() for g in raw["geographies"].split(";") if g.strip())
        ind = Indicator(raw["indicator_id"].strip(), raw["theme"].strip(), raw["title_vi"], raw["title_en"],
                        raw["unit"], raw["definition"], raw["computation_kind"].strip(), _opt(raw["computation"]),
                        geos, _num(raw["baseline_value"], float), _num(raw["baseline_year"], int),
                        _opt(raw["baseline_source"]), _opt(raw["baseline_confidence"]),
                        _num(raw["target_value"], float), _num(raw["target_year"], int), _opt(raw["target_source"]),
                        _opt(raw["target_confidence"]), raw["direction"].strip(), _num(raw["ceiling"], float),
                        _opt(raw["notes"]))
    except (KeyError, ValueError) as exc:
        raise ProductError(f"{where}: dòng sai / malformed row ({exc})") from exc
    problems = [f"geography {g!r}" for g in ind.geographies if g not in GEOGRAPHIES]
    problems += [f"direction {ind.direction!r}"] if ind.direction not in DIRECTIONS else []
    problems += [f"computation_kind {ind.computation_kind!r}"] if ind.computation_kind not in KINDS else []
    if (ind.computation_kind == "computed") != (ind.computation is not None):
        problems.append("a computed indicator names its computation, a reported one none")
    if problems:
        raise ProductError(f"{where} ({ind.indicator_id}): giá trị không hợp lệ / invalid {', '.join(problems)}")
    return ind


@lru_cache(maxsize=1)
def register() -> dict[str, Indicator]:
    """All indicators by id; duplicate ids are refused (one record per indicator)."""
    out: dict[str, Indicator] = {}
    with REGISTER_FILE.open(encoding="utf-8", newline="") as fh:
        for line, raw in enumerate(csv.DictReader(fh), start=2):
            ind = _parse(line, raw)
            if ind.indicator_id in out:
                raise ProductError(f"{REGISTER_FILE.name}, row {line}: trùng mã / duplicate id {ind.indicator_id}")
            out[ind.indicator_id] = ind
    return out
