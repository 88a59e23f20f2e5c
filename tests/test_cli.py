"""The `geo` program end to end (subprocess): ingest, runs, diff, revert, admin queries, error handling."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import park, write_geojson


@pytest.fixture
def geo(db, db_settings, tmp_path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "GEO_DATABASE_URL": db_settings.url(), "GEO_INGEST_REPORTS_DIR": str(tmp_path / "r"),
           "COLUMNS": "200", "GEO_INGEST_USER": "cli-test"}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run([sys.executable, "-m", "geo", *args], env=env, capture_output=True, text=True,
                           timeout=120)
        assert "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr
        if ok:
            assert p.returncode == 0, p.stdout + p.stderr
        return p
    return run


def test_help_lists_command_groups(geo):
    out = geo("--help").stdout
    for cmd in ("ingest", "runs", "db", "admin", "layers"):
        assert cmd in out


def test_ingest_diff_revert_through_the_cli(geo, tmp_path: Path):
    f1 = write_geojson(tmp_path / "v1.geojson", [park("A", occupancy_pct=10), park("B", 106.72)])
    out = geo("ingest", "industrial_parks", str(f1)).stdout
    assert "succeeded" in out
    f2 = write_geojson(tmp_path / "v2.geojson", [park("A", occupancy_pct=20), park("B", 106.72)])
    assert "succeeded" in geo("ingest", "industrial_parks", str(f2)).stdout
    runs = geo("runs").stdout
    assert "v1.geojson" in runs and "v2.geojson" in runs and "cli-test" in runs
    first = geo("runs", "diff", "1").stdout  # a first load: its inserts are one span of ids
    assert "2 change(s)" in first and "code=A" in first and "code=B" in first and "insert" in first
    diff = geo("runs", "diff", "2").stdout
    assert "update" in diff and "code=A" in diff and "occupancy_pct" in diff and "code=B" not in diff
    assert "run 2 reverted by run 3" in geo("runs", "revert", "2").stdout
    again = geo("runs", "revert", "2", ok=False)
    assert again.returncode == 1 and "already reverted" in again.stderr


def test_bad_file_exits_nonzero_with_reason(geo, tmp_path: Path):
    f = write_geojson(tmp_path / "bad.geojson", [park("A", occupancy_pct=150)])
    p = geo("ingest", "industrial_parks", str(f), ok=False)
    assert p.returncode == 1
    assert "bad.geojson, record 1 [A], field 'occupancy_pct'" in p.stdout
    assert "nothing was written" in p.stdout


def test_unknown_layer_is_a_clear_error(geo, tmp_path: Path):
    p = geo("ingest", "parks", str(tmp_path / "x.geojson"), ok=False)
    assert p.returncode == 1 and "unknown layer family 'parks'" in p.stderr


def test_admin_queries(geo, tmp_path: Path):
    unit = {"level": "district", "code": "700", "name_vi": "Huyện Mẫu", "valid_from": "2000-01-01",
            "valid_to": "2025-07-01"}
    from tests.factories import square
    f = write_geojson(tmp_path / "u.geojson", [(unit, square(106.6, 11.0, 0.1))])
    geo("ingest", "admin_units", str(f))
    assert "Huyện Mẫu" in geo("admin", "locate", "106.65", "11.05", "--date", "2024-01-01").stdout
    miss = geo("admin", "locate", "106.65", "11.05", "--date", "2025-08-01", ok=False)
    assert miss.returncode == 1 and "no unit contains" in miss.stdout
    assert "Units in force on 2024-01-01: 1" in geo("admin", "units", "--date", "2024-01-01").stdout


def test_unknown_command_is_a_usage_error(geo):
    p = geo("nosuch", ok=False)
    assert p.returncode == 2 and "No such command" in p.stdout + p.stderr
