"""Progress status towards a target (Open SDG / Statistics Canada method, targets.md convention 4)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    ACCELERATION_NEEDED = "acceleration_needed"
    LIMITED_PROGRESS = "limited_progress"
    DETERIORATION = "deterioration"
    TREND_ONLY = "trend_only"
    INSUFFICIENT_DATA = "insufficient_data"


LABELS = {
    Status.ACHIEVED: "Đã đạt mục tiêu / target achieved",
    Status.ON_TRACK: "Đúng tiến độ / on track",
    Status.ACCELERATION_NEEDED: "Cần đẩy nhanh / acceleration needed",
    Status.LIMITED_PROGRESS: "Tiến triển hạn chế / limited progress",
    Status.DETERIORATION: "Đi xuống / deterioration",
    Status.TREND_ONLY: "Chỉ xu hướng (không có mục tiêu) / trend only (no target)",
    Status.INSUFFICIENT_DATA: "Chưa đủ số liệu / insufficient data",
}
ON_TRACK_R = 0.95
ACCELERATION_R = 0.60


@dataclass(frozen=True)
class Point:
    year: int
    value: float


@dataclass(frozen=True)
class Progress:
    status: Status
    ratio: float | None = None            # R = observed / required rate
    observed_rate: float | None = None
    required_rate: float | None = None
    method: str = "cagr"                  # 'cagr' | 'linear' | 'maintain' | 'trend'
    trend: str | None = None              # 'increasing' | 'decreasing' | 'stable' (no target)

    @property
    def label(self) -> str:
        return LABELS[self.status]


def _rate(start: float, end: float, years: float, linear: bool) -> float:
    return (end - start) / years if linear else (end / start) ** (1 / years) - 1


def _from_ratio(r: float) -> Status:
    if r >= ON_TRACK_R:
        return Status.ON_TRACK
    if r >= ACCELERATION_R:
        return Status.ACCELERATION_NEEDED
    if r >= 0:
        return Status.LIMITED_PROGRESS
    return Status.DETERIORATION


def _met(value: float, target: float, direction: str) -> bool:
    return value <= target if direction == "decrease" else value >= target


def progress_status(baseline: Point, latest: Point, target: Point | None, direction: str,
                    ceiling: float | None = None) -> Progress:
    """Status of ``latest`` against ``target`` from ``baseline``.

    Rules (convention 4 of targets.md):
    - *achieved*: the latest value meets the target (≥ for increase, ≤ for decrease).
    - otherwise R = observed rate / required rate, both compound annual growth rates (CAGR) from the base year:
      observed to the latest year, required to the target year; on track R ≥ 0.95, acceleration needed
      0.60 ≤ R < 0.95, limited progress 0 ≤ R < 0.60, deterioration R < 0. Decreasing targets use the same
      ratio (both rates negative when moving the right way).
    - *maintain* ("keep ≥ X"): achieved while the latest value meets the level, else deterioration.
    - *natural ceiling* (a share capped at 100 %): progress is measured on the gap to the ceiling, which must
      shrink; compounding cannot reach a gap of zero, so when the target is the ceiling itself (or a value is
      ≤ 0, where a CAGR is undefined) the rates are linear (units per year) instead of compound.
    - no target: only the trend (sign of the observed rate); fewer than two years: insufficient data.
    """
    years = latest.year - baseline.year
    if target is not None and direction == "maintain":
        met = latest.value >= target.value
        return Progress(Status.ACHIEVED if met else Status.DETERIORATION, method="maintain")
    if target is not None and _met(latest.value, target.value, direction):
        return Progress(Status.ACHIEVED)
    if years <= 0:
        return Progress(Status.INSUFFICIENT_DATA)
    if target is None or direction == "none":
        rate = latest.value - baseline.value
        trend = "increasing" if rate > 0 else "decreasing" if rate < 0 else "stable"
        return Progress(Status.TREND_ONLY, method="trend", trend=trend)
    start, end, goal = baseline.value, latest.value, target.value
    if ceiling is not None and direction == "increase":
        start, end, goal = ceiling - start, ceiling - end, ceiling - goal   # the gap, which must shrink
    linear = min(start, end, goal) <= 0
    observed = _rate(start, end, years, linear)
    required = _rate(start, goal, target.year - baseline.year, linear) if target.year > baseline.year else 0.0
    if required == 0:
        # Base already at the target level yet the latest misses it: the value moved the wrong way.
        return Progress(Status.DETERIORATION, None, observed, required, "linear" if linear else "cagr")
    ratio = observed / required
    return Progress(_from_ratio(ratio), ratio, observed, required, "linear" if linear else "cagr")
