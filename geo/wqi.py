"""Water-quality index engine: VN_WQI sub-indices, aggregation (formulas 3–5) and categories (1460/QĐ-TCMT)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from geo.aqi import Number, round_half_up, to_fraction
from geo.errors import InputError

Exact = Union[Fraction, float]   # exact where the arithmetic allows, float after a root

GROUPS: tuple[str, ...] = ("I", "II", "III", "IV", "V")
TEMPERATURE_KEY = "T_C"


@dataclass(frozen=True)
class StepTable:
    """One column of Bảng 1/2: (BP, q) for levels 1..4 and how level 1 and level 5 are written.

    ``strict_first``: level 1 is "<BP" with the same BP at level 2, so BP itself scores q2 (a step).
    ``top``: the level-5 "≥" value (interpolate 25 → 10 up to it); None when level 5 is ">" (a step to 10).
    """

    points: tuple[tuple[Fraction, int], ...]
    strict_first: bool = False
    top: Fraction | None = None


def _column(levels: tuple[str, ...], top: str | None, strict_first: bool = False) -> StepTable:
    points = tuple((Fraction(bp), q) for bp, q in zip(levels, (100, 75, 50, 25)))
    return StepTable(points, strict_first, Fraction(top) if top is not None else None)


@dataclass(frozen=True)
class WaterParameter:
    """A VN_WQI parameter: its input key, its name in results, its group and unit."""

    key: str
    name: str
    group: str
    unit: str
    table: StepTable | None = None
    limit: Fraction | None = None   # group II: 100 at or below the limit, 10 above


def _tabled(key: str, group: str, unit: str, table: StepTable) -> WaterParameter:
    return WaterParameter(key, key, group, unit, table)


def _pesticide(name: str, limit: str) -> WaterParameter:
    return WaterParameter(f"{name}_ugL", name, "II", "ug/L", limit=Fraction(limit))


# Bảng 1 (groups IV and V; mg/L, Coliform and E. coli in MPN/100 mL) and Bảng 2 (group III; mg/L).
PARAMETERS: dict[str, WaterParameter] = {p.key: p for p in (
    WaterParameter("pH", "pH", "I", "-"),
    _pesticide("Aldrin", "0.1"), _pesticide("BHC", "0.02"), _pesticide("Dieldrin", "0.1"),
    _pesticide("DDTs", "1.0"), _pesticide("Heptachlor", "0.2"),   # Heptachlor & Heptachlorepoxide
    _tabled("As", "III", "mg/L", _column(("0.01", "0.02", "0.05", "0.1"), None)),
    _tabled("Cd", "III", "mg/L", _column(("0.005", "0.005", "0.008", "0.01"), "0.1", strict_first=True)),
    _tabled("Pb", "III", "mg/L", _column(("0.02", "0.02", "0.04", "0.05"), "0.5", strict_first=True)),
    _tabled("Cr6", "III", "mg/L", _column(("0.01", "0.02", "0.04", "0.05"), "0.1")),
    _tabled("Cu", "III", "mg/L", _column(("0.1", "0.2", "0.5", "1.0"), "2")),
    _tabled("Zn", "III", "mg/L", _column(("0.5", "1.0", "1.5", "2.0"), "3")),
    _tabled("Hg", "III", "mg/L", _column(("0.001", "0.001", "0.0015", "0.002"), "0.01", strict_first=True)),
    WaterParameter("DO", "DO", "IV", "mg/L"),
    _tabled("BOD5", "IV", "mg/L", _column(("4", "6", "15", "25"), "50")),
    _tabled("COD", "IV", "mg/L", _column(("10", "15", "30", "50"), "150")),
    _tabled("TOC", "IV", "mg/L", _column(("4", "6", "15", "25"), "50")),
    _tabled("NNH4", "IV", "mg/L", _column(("0.3", "0.3", "0.6", "0.9"), "5", strict_first=True)),
    _tabled("NNO3", "IV", "mg/L", _column(("2", "5", "10", "15"), None)),
    _tabled("NNO2", "IV", "mg/L", _column(("0.05",), None)),
    _tabled("PPO4", "IV", "mg/L", _column(("0.1", "0.2", "0.3", "0.5"), "4")),
    _tabled("Coliform", "V", "MPN/100mL", _column(("2500", "5000", "7500", "10000"), None)),
    _tabled("Ecoli", "V", "MPN/100mL", _column(("20", "50", "100", "200"), None)),
)}

# Bảng 3 (DO % saturation) and Bảng 4 (pH): the sloping parts; flat parts and the outside values are in code.
_DO_RISING = ((Fraction(20), 25), (Fraction(50), 50), (Fraction(75), 75), (Fraction(88), 100))
_DO_FALLING = ((Fraction(112), 100), (Fraction(125), 75), (Fraction(150), 50), (Fraction(200), 25))
_PH_RISING = ((Fraction("5.5"), 50), (Fraction(6), 100))
_PH_FALLING = ((Fraction("8.5"), 100), (Fraction(9), 50))


def _interpolate(c: Fraction, points: tuple[tuple[Fraction, int], ...] | list[tuple[Fraction, int]]) -> Fraction:
    # Công thức 1 and 2 are the same straight line between (BP_i, q_i) and (BP_i+1, q_i+1), written two ways.
    for (bp_lo, q_lo), (bp_hi, q_hi) in zip(points, points[1:]):
        if bp_lo <= c <= bp_hi:
            return q_lo + Fraction(q_hi - q_lo) * (c - bp_lo) / (bp_hi - bp_lo)
    raise InputError(f"value {float(c)} lies outside the interpolation range")


def step_sub_index(c: Fraction, table: StepTable) -> Fraction:
    """Sub-index from a Bảng 1/2 column, applying the "<" step at level 1 and the ">"/"≥" rules at level 5."""
    first = table.points[0][0]
    if c < first or (c == first and not table.strict_first):
        return Fraction(100)
    points = list(table.points[1:] if table.strict_first else table.points)
    if table.top is None:
        if c > points[-1][0]:
            return Fraction(10)
    elif c >= table.top:
        return Fraction(10)
    else:
        points.append((table.top, 10))
    return _interpolate(c, points)


def ph_sub_index(ph: Number) -> Fraction:
    """pH sub-index (Bảng 4): 10 outside 5.5..9, 100 on 6..8.5, straight lines between."""
    value = to_fraction(ph)
    if value < _PH_RISING[0][0] or value > _PH_FALLING[-1][0]:
        return Fraction(10)
    if _PH_RISING[-1][0] <= value <= _PH_FALLING[0][0]:
        return Fraction(100)
    return _interpolate(value, _PH_RISING if value < _PH_RISING[-1][0] else _PH_FALLING)


def do_saturation(temperature_c: Number) -> Fraction:
    """Dissolved-oxygen saturation (mg/L) at a water temperature in °C, by the 1460 polynomial."""
    t = to_fraction(temperature_c)
    return Fraction("14.652") - Fraction("0.41022") * t + Fraction("0.0079910") * t ** 2 \
        - Fraction("0.000077774") * t ** 3


def do_percent(do_mg_l: Number, temperature_c: Number) -> Fraction:
    """DO as % of saturation."""
    return to_fraction(do_mg_l) / do_saturation(temperature_c) * 100


def do_sub_index(do_mg_l: Number, temperature_c: Number) -> Fraction:
    """DO sub-index (Bảng 3) through % saturation: 10 outside 20..200 %, 100 on 88..112 %, lines between."""
    pct = do_percent(do_mg_l, temperature_c)
    if pct < _DO_RISING[0][0] or pct > _DO_FALLING[-1][0]:
        return Fraction(10)
    if _DO_RISING[-1][0] <= pct <= _DO_FALLING[0][0]:
        return Fraction(100)
    return _interpolate(pct, _DO_RISING if pct < _DO_RISING[-1][0] else _DO_FALLING)


def parameter_sub_index(key: str, value: Number, temperature_c: Number | None = None) -> Fraction:
    """WQI_SI of one parameter given by its input key (``DO`` needs the water temperature)."""
    parameter = PARAMETERS.get(key)
    if parameter is None:
        raise InputError(f"unknown water-quality parameter; expected one of {sorted(PARAMETERS)}", field=key)
    c = to_fraction(value)
    if c < 0:
        raise InputError(f"negative value {value!r}", field=key)
    if parameter.limit is not None:
        return Fraction(100) if c <= parameter.limit else Fraction(10)
    if parameter.table is not None:
        return step_sub_index(c, parameter.table)
    if key == "pH":
        return ph_sub_index(c)
    if temperature_c is None:
        raise InputError(f"DO needs the water temperature ({TEMPERATURE_KEY}) for % saturation", field=key)
    return do_sub_index(c, temperature_c)


@dataclass(frozen=True)
class WaterCategory:
    """A VN_WQI band with its names, colour and suitable use."""

    low: int
    high: int
    name_vi: str
    name_en: str
    colour_vi: str
    colour_en: str
    rgb: tuple[int, int, int]
    use_vi: str
    use_en: str

    @property
    def rgb_text(self) -> str:
        """RGB written as in the vectors, e.g. ``51;51;255``."""
        return ";".join(str(part) for part in self.rgb)

    @property
    def hex(self) -> str:
        """Hex colour derived from the RGB triple."""
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


# Names as cited from the signed 1460 (reference §5.4), not the draft's Bảng 7 wording.
WATER_CATEGORIES: tuple[WaterCategory, ...] = (
    WaterCategory(91, 100, "Rất tốt", "Very good", "Xanh nước biển", "Blue", (51, 51, 255),
                  "Dùng tốt cho cấp nước sinh hoạt.", "Good for domestic water supply."),
    WaterCategory(76, 90, "Tốt", "Good", "Xanh lá cây", "Green", (0, 228, 0),
                  "Dùng cho cấp nước sinh hoạt sau khi xử lý phù hợp.",
                  "Domestic water supply after suitable treatment."),
    WaterCategory(51, 75, "Trung bình", "Medium", "Vàng", "Yellow", (255, 255, 0),
                  "Dùng cho tưới tiêu và các mục đích tương đương.", "Irrigation and equivalent uses."),
    WaterCategory(26, 50, "Xấu", "Bad", "Da cam", "Orange", (255, 126, 0),
                  "Dùng cho giao thông thủy và các mục đích tương đương.",
                  "Waterway transport and equivalent uses."),
    WaterCategory(10, 25, "Kém", "Poor", "Đỏ", "Red", (255, 0, 0),
                  "Nước ô nhiễm nặng, cần biện pháp xử lý trong tương lai.",
                  "Heavily polluted; treatment needed in future."),
    WaterCategory(0, 9, "Ô nhiễm rất nặng", "Very heavily polluted", "Nâu", "Maroon", (126, 0, 35),
                  "Nước nhiễm độc, cần biện pháp khắc phục và xử lý.", "Toxic water; remediation needed."),
)


def water_category(wqi: int) -> WaterCategory:
    """The category of an integer WQI."""
    return next((c for c in WATER_CATEGORIES if c.low <= wqi <= c.high),
                WATER_CATEGORIES[0] if wqi > 100 else WATER_CATEGORIES[-1])


# Why no index was published, in Vietnamese (default) and English.
NO_INDEX_REASONS: dict[str, tuple[str, str]] = {
    "group_iv_missing": ("Thiếu nhóm IV (hữu cơ và dinh dưỡng), nhóm bắt buộc.",
                         "Group IV (organic and nutrients) is mandatory and missing."),
    "group_iv_short": ("Nhóm IV cần ít nhất 3 thông số.", "Group IV needs at least 3 parameters."),
    "too_few_groups": ("Cần số liệu của ít nhất 3 trong 5 nhóm thông số.",
                       "Data from at least 3 of the 5 parameter groups are needed."),
    "pesticides_missing": ("Thủy vực chịu tác động của hóa chất bảo vệ thực vật phải có nhóm II.",
                           "A water body affected by pesticides must include group II."),
    "metals_missing": ("Thủy vực chịu tác động của kim loại nặng phải có nhóm III.",
                       "A water body affected by heavy metals must include group III."),
}


@dataclass(frozen=True)
class WqiResult:
    """VN_WQI of one sample set; ``wqi`` is None with a ``reason`` key when the minimum data are not met."""

    sub_indices: Mapping[str, Fraction]
    groups: Mapping[str, tuple[str, ...]]
    do_percent: Fraction | None
    factors: Mapping[str, Exact]
    mean_iv: Fraction | None
    mean_v: Fraction | None
    wqi: Exact | None
    formula: str | None
    wqi_weighted: Exact | None
    reason: str | None = None

    @property
    def wqi_rounded(self) -> int | None:
        """Published WQI (formula 3 or 4), rounded half-up."""
        return None if self.wqi is None else int(round_half_up(self.wqi))

    @property
    def wqi_weighted_rounded(self) -> int | None:
        """Formula 5 (organic-pollution water bodies) rounded half-up; None without group V."""
        return None if self.wqi_weighted is None else int(round_half_up(self.wqi_weighted))

    @property
    def category(self) -> WaterCategory | None:
        """Category of the published WQI."""
        return None if self.wqi_rounded is None else water_category(self.wqi_rounded)


def _geometric_mean_factor(values: list[Fraction]) -> Exact:
    # Exact when the mean is rational (one value, or all equal); float only when a real root is needed.
    if not values:
        return Fraction(1)   # convention 10: an absent group I/II/III contributes 1
    if len(set(values)) == 1:
        return values[0] / 100
    return math.prod(float(v) for v in values) ** (1 / len(values)) / 100


def _missing_data(groups: Mapping[str, tuple[str, ...]], pesticide_affected: bool,
                  metal_affected: bool) -> str | None:
    if not groups.get("IV"):
        return "group_iv_missing"
    if len(groups["IV"]) < 3:
        return "group_iv_short"
    if sum(1 for names in groups.values() if names) < 3:
        return "too_few_groups"
    if pesticide_affected and not groups.get("II"):
        return "pesticides_missing"
    if metal_affected and not groups.get("III"):
        return "metals_missing"
    return None


def _sub_indices(sample: Mapping[str, Number | None]) -> tuple[dict[str, Fraction], Fraction | None]:
    temperature = sample.get(TEMPERATURE_KEY)
    subs: dict[str, Fraction] = {}
    for key, value in sample.items():
        if key == TEMPERATURE_KEY or value is None:
            continue
        subs[PARAMETERS[key].name if key in PARAMETERS else key] = parameter_sub_index(key, value, temperature)
    pct = do_percent(sample["DO"], temperature) if sample.get("DO") is not None else None
    return subs, pct


def wqi(sample: Mapping[str, Number | None], *, pesticide_affected: bool = False,
        metal_affected: bool = False) -> WqiResult:
    """VN_WQI of one sample set keyed by parameter (see ``PARAMETERS``; ``T_C`` is the water temperature).

    Formula 3 with group V, formula 4 without; formula 5 (weights IV = 2, V = 1) alongside when group V exists.
    Needs ≥ 3 groups including group IV with ≥ 3 parameters, else ``wqi`` is None with a reason key.
    """
    subs, pct = _sub_indices(sample)
    by_name = {p.name: p for p in PARAMETERS.values()}
    groups = {g: tuple(n for n in subs if by_name[n].group == g) for g in GROUPS}
    factors = {g: _geometric_mean_factor([subs[n] for n in groups[g]]) for g in ("I", "II", "III")}
    mean_iv = sum(subs[n] for n in groups["IV"]) / len(groups["IV"]) if groups["IV"] else None
    mean_v = sum(subs[n] for n in groups["V"]) / len(groups["V"]) if groups["V"] else None
    reason = _missing_data(groups, pesticide_affected, metal_affected)
    if reason is not None or mean_iv is None:
        return WqiResult(subs, groups, pct, factors, mean_iv, mean_v, None, None, None, reason)
    product = factors["I"] * factors["II"] * factors["III"]
    if mean_v is None:
        return WqiResult(subs, groups, pct, factors, mean_iv, None, product * mean_iv, "4", None)
    standard = product * math.sqrt(mean_iv * mean_v)
    weighted = product * float(mean_iv ** 2 * mean_v) ** (1 / 3)
    return WqiResult(subs, groups, pct, factors, mean_iv, mean_v, standard, "3", weighted)
