"""Progress status on constructed series: the five statuses, maintain, ceiling, decreasing, no target."""
from __future__ import annotations

import pytest

from geo.progress import Point, Status, progress_status

BASE = Point(2020, 50.0)
TARGET = Point(2030, 100.0)   # requires CAGR (100/50)^(1/10) − 1 ≈ 7.18 %/yr


def _latest_for_ratio(r: float, years: int = 5) -> Point:
    required = (TARGET.value / BASE.value) ** (1 / 10) - 1
    return Point(2020 + years, BASE.value * (1 + r * required) ** years)


@pytest.mark.parametrize("ratio,status", [
    (1.0, Status.ON_TRACK), (0.95, Status.ON_TRACK), (0.80, Status.ACCELERATION_NEEDED),
    (0.60, Status.ACCELERATION_NEEDED), (0.30, Status.LIMITED_PROGRESS), (0.0, Status.LIMITED_PROGRESS),
    (-0.5, Status.DETERIORATION)])
def test_statuses_follow_the_ratio_of_growth_rates(ratio, status):
    p = progress_status(BASE, _latest_for_ratio(ratio), TARGET, "increase")
    assert p.status == status
    assert p.ratio == pytest.approx(ratio, abs=1e-9)
    assert p.method == "cagr"


def test_target_reached_is_achieved():
    assert progress_status(BASE, Point(2024, 101.0), TARGET, "increase").status == Status.ACHIEVED


def test_decreasing_target():
    base, target = Point(2020, 40.0), Point(2030, 10.0)
    assert progress_status(base, Point(2025, 20.0), target, "decrease").status == Status.ON_TRACK
    assert progress_status(base, Point(2025, 45.0), target, "decrease").status == Status.DETERIORATION
    assert progress_status(base, Point(2025, 36.0), target, "decrease").status == Status.LIMITED_PROGRESS
    assert progress_status(base, Point(2025, 9.0), target, "decrease").status == Status.ACHIEVED


@pytest.mark.parametrize("latest,status", [(57.5, Status.ACHIEVED), (58.0, Status.ACHIEVED),
                                           (57.4, Status.DETERIORATION)])
def test_maintain_rule(latest, status):
    """T12.2 keeps ≥ 57.5 %: achieved while the latest value meets the level, else deterioration."""
    p = progress_status(Point(2020, 57.5), Point(2024, latest), Point(2025, 57.5), "maintain", ceiling=100)
    assert p.status == status and p.method == "maintain"


def test_ceiling_target_uses_linear_gap():
    """Target = the ceiling (100 %): the gap must reach 0, which no CAGR can; rates are linear in the gap."""
    base, target = Point(2020, 80.0), Point(2030, 100.0)   # gap 20 → 0: 2 points a year needed
    p = progress_status(base, Point(2025, 90.0), target, "increase", ceiling=100)
    assert p.method == "linear" and p.ratio == pytest.approx(1.0) and p.status == Status.ON_TRACK
    p = progress_status(base, Point(2025, 84.0), target, "increase", ceiling=100)
    assert p.ratio == pytest.approx(0.4) and p.status == Status.LIMITED_PROGRESS


def test_ceiling_below_100_uses_compound_gap():
    base, target = Point(2020, 60.0), Point(2030, 90.0)   # gap 40 → 10
    p = progress_status(base, Point(2025, 80.0), target, "increase", ceiling=100)   # gap 20 = halfway in log terms
    assert p.method == "cagr" and p.ratio == pytest.approx(1.0) and p.status == Status.ON_TRACK


def test_zero_baseline_falls_back_to_linear():
    p = progress_status(Point(2020, 0.0), Point(2025, 5.0), Point(2030, 10.0), "increase")
    assert p.method == "linear" and p.ratio == pytest.approx(1.0)


@pytest.mark.parametrize("latest,trend", [(55.0, "increasing"), (45.0, "decreasing"), (50.0, "stable")])
def test_no_target_gives_trend_only(latest, trend):
    p = progress_status(BASE, Point(2024, latest), None, "none")
    assert p.status == Status.TREND_ONLY and p.trend == trend


def test_single_year_is_insufficient():
    assert progress_status(BASE, BASE, TARGET, "increase").status == Status.INSUFFICIENT_DATA


def test_labels_are_bilingual():
    p = progress_status(BASE, _latest_for_ratio(1.0), TARGET, "increase")
    assert p.label == "Đúng tiến độ / on track"
