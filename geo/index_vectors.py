"""Harness that evaluates AQI and WQI inputs shaped like the reference vectors' ``inputs`` objects."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from geo.aqi import (AqiResult, aqi_from_concentrations, check_scheme, day_max_8h, max_reading, nowcast,
                     round_half_up)
from geo.aqi_tables import PM_POLLUTANTS, POLLUTANTS
from geo.errors import InputError
from geo.wqi import NO_INDEX_REASONS, wqi

# O3 hours from 18:00 of the previous day to 00:00: 7 hours feeding the first 8-h windows, then the day's 24.
O3_DAY_KEY = "o3_hourly_18h_prevday_to_00h"
_O3_DAY_HOURS = 31


def _decimal_places(value: Fraction | float | None, places: int) -> float | None:
    return None if value is None else float(round_half_up(value, places))


def _air_measure(key: str, pollutant: str, suffix: str, scheme: str) -> str:
    """Which averaged input ("measure" of geo.aqi) a vector key denotes."""
    if pollutant in PM_POLLUTANTS and suffix in ("", "nowcast", "24h", "24h_mean"):
        return pollutant
    us_co = pollutant == "co" and scheme == "us"
    if pollutant not in PM_POLLUTANTS and not us_co and suffix in ("", "1h", "1h_max"):
        return pollutant
    if suffix in ("8h", "8h_max") and (pollutant == "o3" or us_co):
        return "o3_8h" if pollutant == "o3" else "co"
    raise InputError(f"unsupported input for the {scheme.upper()} scheme", field=key)


def _split_key(key: str) -> tuple[str, str]:
    for pollutant in POLLUTANTS:
        if key == pollutant or key.startswith(pollutant + "_"):
            return pollutant, key[len(pollutant) + 1:]
    raise InputError(f"unknown input; keys start with one of {list(POLLUTANTS)}", field=key)


def _air_concentrations(inputs: Mapping[str, Any], scheme: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Averaged concentrations per measure, NowCasts computed on the way, and pollutants in input order."""
    concentrations: dict[str, Any] = {}
    nowcasts: dict[str, Any] = {}
    order: list[str] = []

    def put(measure: str, value: Any, key: str) -> None:
        if measure in concentrations:
            raise InputError(f"{measure} is given twice", field=key)
        concentrations[measure] = value

    for key, value in inputs.items():
        pollutant, suffix = _split_key(key)
        if pollutant not in order:
            order.append(pollutant)
        if key == O3_DAY_KEY:
            hours = _hour_list(key, value, _O3_DAY_HOURS)
            put("o3", max_reading(hours[-24:]), key)
            put("o3_8h", day_max_8h(hours)[0], key)
        elif suffix == "c1_to_c12" and pollutant in PM_POLLUTANTS:
            nowcasts[pollutant] = nowcast(_hour_list(key, value, 12), scheme, pollutant)
            put(pollutant, nowcasts[pollutant], key)
        else:
            put(_air_measure(key, pollutant, suffix, scheme), value, key)
    return concentrations, nowcasts, order


def _hour_list(key: str, value: Any, length: int) -> Sequence[Any]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != length:
        raise InputError(f"expected a list of {length} hourly values", field=key)
    return value


def air_result_dict(result: AqiResult, pollutants: Sequence[str]) -> dict[str, Any]:
    """An AqiResult in the vectors' shape: exact sub-indices to 6 d.p., None where nothing may be published."""
    subs: dict[str, Any] = {}
    for pollutant in pollutants:
        sub = result.sub_indices.get(pollutant)
        subs[pollutant] = None if sub is None else {"exact": _decimal_places(sub.exact, 6),
                                                    "rounded": sub.rounded}
    category = result.category
    return {
        "scheme": result.scheme, "aqi": result.aqi, "dominant": result.dominant,
        "category": category.name_vi if category else None, "category_en": category.name_en if category else None,
        "rgb": category.rgb_text if category else None, "hex": category.hex if category else None,
        "beyond_scale": result.beyond_scale, "provisional": result.provisional, "sub_indices": subs,
    }


def calc_air(inputs: Mapping[str, Any], scheme: str = "vn") -> dict[str, Any]:
    """Evaluate an air-quality ``inputs`` object (hourly, boundary or daily kind) in the VN or US scheme.

    With two or more pollutants this is the station AQI, None without a PM sub-index (convention 4). With a
    single pollutant it is that pollutant's AQIx on its own (``single_pollutant`` True): vectors VN-B04 and
    VN-H08 expect ``aqi`` to be the NO2/SO2 sub-index there, which is not a publishable station AQI.
    """
    check_scheme(scheme)
    concentrations, nowcasts, order = _air_concentrations(inputs, scheme)
    single = len(order) == 1
    output = air_result_dict(aqi_from_concentrations(concentrations, scheme, require_pm=not single), order)
    output["single_pollutant"] = single
    output["nowcast"] = {p: _decimal_places(v, 6) for p, v in nowcasts.items()}
    return output


def calc_water(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate a water-quality ``inputs`` object; 4 d.p. as in the vectors, None where no index may be published."""
    result = wqi(inputs)
    category = result.category
    reason = NO_INDEX_REASONS.get(result.reason or "", (None, None))
    return {
        "sub_indices": {name: _decimal_places(value, 4) for name, value in result.sub_indices.items()},
        "do_percent": _decimal_places(result.do_percent, 4),
        "mean_IV": _decimal_places(result.mean_iv, 4),
        "mean_V": _decimal_places(result.mean_v, 4),
        "formula": result.formula,
        "wqi_formula_3_or_4": _decimal_places(result.wqi, 4),
        "wqi_rounded": result.wqi_rounded,
        "category": category.name_vi if category else None,
        "category_en": category.name_en if category else None,
        "rgb": category.rgb_text if category else None,
        "hex": category.hex if category else None,
        "wqi_formula_5_weighted": _decimal_places(result.wqi_weighted, 4),
        "wqi_formula_5_rounded": result.wqi_weighted_rounded,
        "no_index_reason": reason[0],
        "no_index_reason_en": reason[1],
    }
