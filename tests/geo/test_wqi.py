"""Tests of the water-quality index engine: every reference vector, then the table-reading rules one by one."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from geo.errors import InputError
from geo.index_vectors import calc_water
from geo.wqi import do_saturation, parameter_sub_index, ph_sub_index, water_category, wqi

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
WATER_VECTORS = json.loads((REFERENCE / "water-quality-vectors.json").read_text(encoding="utf-8"))["vectors"]
_NOT_OUTPUTS = {"id", "inputs", "note"}


@pytest.mark.parametrize("vector", WATER_VECTORS, ids=[v["id"] for v in WATER_VECTORS])
def test_reference_vector(vector: dict) -> None:
    result = calc_water(vector["inputs"])
    expected = {key: value for key, value in vector.items() if key not in _NOT_OUTPUTS}
    assert {key: result[key] for key in expected} == expected


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("NNH4", "0.29", 100), ("NNH4", "0.30", 75),              # "<" at level 1: a step at the value itself
    ("Cd", "0.0049", 100), ("Cd", "0.005", 75),
    ("NNO3", "15", 25), ("NNO3", "15.1", 10),                 # ">" at level 5: no interpolation above level 4
    ("Coliform", "10000", 25), ("Coliform", "10001", 10),
    ("NNO2", "0.05", 100), ("NNO2", "0.051", 10),
    ("As", "0.1", 25), ("As", "0.11", 10),
    ("BOD5", "40", 16), ("Cu", "1.5", "17.5"),                # "≥" at level 5: interpolate 25 → 10
    ("BOD5", "50", 10), ("BOD5", "4", 100), ("BOD5", "5", "87.5"),
    ("Aldrin_ugL", "0.1", 100), ("Aldrin_ugL", "0.11", 10),   # pesticides: 100 up to the limit, else 10
])
def test_table_reading_rules(key: str, value: str, expected: object) -> None:
    assert parameter_sub_index(key, value) == Fraction(str(expected))


@pytest.mark.parametrize(("ph", "expected"), [
    ("5.4", 10), ("5.5", 50), ("5.75", 75), ("6", 100), ("8.5", 100), ("8.8", 70), ("9", 50), ("9.1", 10),
])
def test_ph_sub_index(ph: str, expected: int) -> None:
    assert ph_sub_index(ph) == expected


def test_do_saturation_polynomial() -> None:
    assert float(do_saturation("27.5")) == pytest.approx(7.7967, abs=5e-5)   # the draft prints 7.78


@pytest.mark.parametrize(("percent", "expected"), [
    (19, 10), (20, 25), (35, "37.5"), (88, 100), (112, 100), (137.5, "62.5"), (200, 25), (201, 10),
])
def test_do_sub_index_through_saturation(percent: float, expected: object) -> None:
    do_mg_l = do_saturation(25) * Fraction(str(percent)) / 100
    assert parameter_sub_index("DO", do_mg_l, 25) == Fraction(str(expected))


def test_absent_groups_count_as_factor_one() -> None:
    result = wqi({"pH": 7, "BOD5": 4, "COD": 10, "NNH4": "0.45", "Coliform": 2500})
    assert result.factors == {"I": 1, "II": 1, "III": 1}
    assert result.formula == "3" and result.wqi == pytest.approx((Fraction(525, 2) / 3 * 100) ** 0.5)


def test_final_wqi_rounds_half_up() -> None:
    # Group IV mean (100 + 100 + 59.5) / 3 = 86.5 exactly, formula 4: half-up 87 where round() gives 86.
    result = wqi({"pH": 7, "Cu": "0.05", "BOD5": 4, "COD": 10, "NNH4": "0.486"})
    assert result.wqi == Fraction(173, 2) and result.wqi_rounded == 87


@pytest.mark.parametrize(("sample", "reason"), [
    ({"pH": 7, "Cu": 0.05, "Coliform": 100}, "group_iv_missing"),
    ({"pH": 7, "Cu": 0.05, "BOD5": 4, "COD": 10, "Coliform": 100}, "group_iv_short"),
    ({"pH": 7, "BOD5": 4, "COD": 10, "TOC": 3}, "too_few_groups"),
])
def test_minimum_data_rule(sample: dict, reason: str) -> None:
    result = wqi(sample)
    assert (result.wqi, result.wqi_rounded, result.category, result.reason) == (None, None, None, reason)
    output = calc_water(sample)
    assert output["wqi_rounded"] is None and output["category"] is None and output["no_index_reason"]


def test_affected_water_bodies_need_their_group() -> None:
    sample = {"pH": 7, "Cu": 0.05, "BOD5": 4, "COD": 10, "TOC": 3}
    assert wqi(sample).wqi_rounded == 100
    assert wqi(sample, pesticide_affected=True).reason == "pesticides_missing"


@pytest.mark.parametrize(("value", "name", "rgb"), [
    (100, "Rất tốt", "51;51;255"), (91, "Rất tốt", "51;51;255"), (90, "Tốt", "0;228;0"), (76, "Tốt", "0;228;0"),
    (75, "Trung bình", "255;255;0"), (51, "Trung bình", "255;255;0"), (50, "Xấu", "255;126;0"),
    (26, "Xấu", "255;126;0"), (25, "Kém", "255;0;0"), (10, "Kém", "255;0;0"), (9, "Ô nhiễm rất nặng", "126;0;35"),
])
def test_categories(value: int, name: str, rgb: str) -> None:
    category = water_category(value)
    assert (category.name_vi, category.rgb_text) == (name, rgb)


@pytest.mark.parametrize("sample", [{"DO": 6, "pH": 7}, {"Nitrate": 1}, {"BOD5": -1}])
def test_bad_samples_are_refused(sample: dict) -> None:
    with pytest.raises(InputError):
        wqi(sample)
