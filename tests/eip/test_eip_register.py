"""The criteria register is data: checked, versioned, immutable once stored; enterprise/link layers match their specs."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from geo import eip_assess
from geo.eip_register import DATA_DIR, RegisterError, read_register, register_files, sync_registers
from layers import REGISTRY


def test_register_file_reads_and_every_computed_metric_exists(db):
    reg = read_register(register_files()[0])
    assert reg.version == "2025.1" and {c.category for c in reg.criteria} == {
        "park_management", "environmental", "social", "economic"}
    with db.connect() as conn:
        conn.execute(text("INSERT INTO industrial_parks (code, name_vi, operating_status, geom) VALUES ('Z', 'Z', "
                          "'operating', ST_Multi(ST_MakeEnvelope(106.7, 11, 106.71, 11.01, 4326)))"))
        values, _ = eip_assess.measures(conn, "Z", reg.valid_from)
        conn.rollback()
    assert {c.metric for c in reg.park_criteria() if c.evaluation == "computed"} <= set(values)


def test_decree_82_thresholds_are_reference_only():
    reg = read_register(register_files()[0])
    d82 = [c for c in reg.criteria if "Decree 82" in c.legal_basis and c.threshold is not None]
    assert d82 and all(c.confidence == "UNCONFIRMED" and c.is_reference for c in d82)
    assert {c.threshold for c in d82} >= {25, 20, 90, 1, 10}


def test_a_stored_version_cannot_change(db, tmp_path: Path):
    src = register_files()[0].read_text(encoding="utf-8")
    (tmp_path / "eip_criteria_2025.1.yaml").write_text(src.replace("threshold: 25", "threshold: 30"), encoding="utf-8")
    with pytest.raises(RegisterError, match="make a new version"), db.begin() as conn:
        sync_registers(conn, tmp_path)
    (tmp_path / "eip_criteria_2025.1.yaml").unlink()
    (tmp_path / "eip_criteria_2026.1.yaml").write_text(
        src.replace('version: "2025.1"', 'version: "2026.1"').replace('valid_from: "2022-07-15"',
                                                                       'valid_from: "2026-01-01"'), encoding="utf-8")
    with db.begin() as conn:
        assert sync_registers(conn, tmp_path) == ["2026.1"]
        n = conn.execute(text("SELECT count(*) FROM criteria WHERE register_version = '2026.1'")).scalar_one()
        conn.execute(text("DELETE FROM criteria_registers WHERE version = '2026.1'"))
    assert n == len(read_register(register_files()[0]).criteria)


def test_bad_register_names_the_criterion(tmp_path: Path):
    bad = (DATA_DIR / "eip_criteria_2025.1.yaml").read_text(encoding="utf-8").replace(
        "category: social", "category: sociale", 1)
    (tmp_path / "eip_criteria_9.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(RegisterError, match="B5-SOC.1.*sociale"):
        read_register(tmp_path / "eip_criteria_9.yaml")


@pytest.mark.parametrize("name", ["enterprises", "symbiosis_links"])
def test_eip_tables_match_their_specs(engine, name):
    spec = REGISTRY.get(name)
    cols = {c["name"] for c in inspect(engine).get_columns(spec.table)}
    assert cols == {*spec.field_names, *spec.derived_columns, "id", "geom", "ingest_run_id", "created_at", "updated_at"}
    assert spec.access.value == "restricted"
