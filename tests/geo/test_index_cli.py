"""Tests of `geo aqi calc` and `geo wqi calc`, run as real subprocesses on the reference vectors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference"
AIR_VECTORS = json.loads((REFERENCE / "air-quality-vectors.json").read_text(encoding="utf-8"))["vectors"]
WATER_VECTORS = json.loads((REFERENCE / "water-quality-vectors.json").read_text(encoding="utf-8"))["vectors"]
WATER_OUTPUTS = ("sub_indices", "mean_IV", "mean_V", "wqi_formula_3_or_4", "wqi_rounded", "category", "rgb",
                 "wqi_formula_5_weighted", "wqi_formula_5_rounded")


def run_geo(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run `python -m geo ARGS` with text on stdin; a wide terminal so that messages are not wrapped."""
    env = {**os.environ, "COLUMNS": "250"}
    done = subprocess.run([sys.executable, "-m", "geo", *args], input=stdin.encode("utf-8"), capture_output=True,
                          cwd=ROOT, env=env, timeout=120)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8"),
                                       done.stderr.decode("utf-8"))


def assert_air_matches(result: dict, vector: dict) -> None:
    assert (result["aqi"], result["category"], result["rgb"]) == (vector["aqi"], vector["category"], vector["rgb"])
    assert result["sub_indices"].keys() == vector["sub_indices"].keys()
    for pollutant, expected in vector["sub_indices"].items():
        got = result["sub_indices"][pollutant]
        if expected is None:
            assert got is None, pollutant
        else:
            assert got["exact"] == pytest.approx(expected["exact"], abs=1e-6), pollutant
            assert got["rounded"] == expected["rounded"], pollutant


def assert_water_matches(result: dict, vector: dict) -> None:
    for key in WATER_OUTPUTS:
        expected = vector[key]
        if isinstance(expected, dict):
            assert result[key] == pytest.approx(expected, abs=1e-4), key
        elif isinstance(expected, float):
            assert result[key] == pytest.approx(expected, abs=1e-4), key
        else:
            assert result[key] == expected, key


def test_aqi_calc_reproduces_every_air_vector_from_stdin() -> None:
    done = run_geo("aqi", "calc", "-", stdin=json.dumps([v["inputs"] for v in AIR_VECTORS]))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)
    assert len(results) == len(AIR_VECTORS)
    for result, vector in zip(results, AIR_VECTORS):
        assert_air_matches(result, vector)
        assert result["scheme"] == "vn"


def test_wqi_calc_reproduces_every_water_vector_from_stdin() -> None:
    done = run_geo("wqi", "calc", stdin=json.dumps([v["inputs"] for v in WATER_VECTORS]))   # no FILE: stdin
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)
    assert len(results) == len(WATER_VECTORS)
    for result, vector in zip(results, WATER_VECTORS):
        assert_water_matches(result, vector)


def test_a_file_argument_and_a_single_object_give_a_single_result(tmp_path: Path) -> None:
    vector = next(v for v in AIR_VECTORS if v["id"] == "VN-H10")
    source = tmp_path / "hour.json"
    source.write_text(json.dumps(vector["inputs"], ensure_ascii=False), encoding="utf-8")
    done = run_geo("aqi", "calc", str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    assert_air_matches(result, vector)


def test_water_file_argument(tmp_path: Path) -> None:
    source = tmp_path / "samples.json"
    source.write_text(json.dumps([v["inputs"] for v in WATER_VECTORS]), encoding="utf-8")
    done = run_geo("wqi", "calc", str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["wqi_rounded"] for r in json.loads(done.stdout)] == [v["wqi_rounded"] for v in WATER_VECTORS]


def test_no_index_is_published_as_null() -> None:
    # VN-H04: the NowCast has only 1 of c1..c3, so no PM sub-index and no AQI (convention 4).
    vector = next(v for v in AIR_VECTORS if v["id"] == "VN-H04")
    result = json.loads(run_geo("aqi", "calc", stdin=json.dumps(vector["inputs"])).stdout)
    assert (result["aqi"], result["category"], result["sub_indices"]["pm25"]) == (None, None, None)


def test_us_scheme() -> None:
    # EPA 2024: 35.0 µg/m³ lies in 9.1–35.4 → 51 + 49·25.9/26.3 = 99.25 → 99; VN gives 70 (reference §4.4).
    done = run_geo("aqi", "calc", "--scheme", "us", stdin='[{"pm25_24h": 35.0}, {"pm25_24h": 55.5}]')
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(r["scheme"], r["aqi"]) for r in json.loads(done.stdout)] == [("us", 99), ("us", 151)]
    assert json.loads(run_geo("aqi", "calc", stdin='{"pm25_24h": 35.0}').stdout)["aqi"] == 70


@pytest.mark.parametrize(("args", "stdin", "vi", "en"), [
    (("aqi", "calc", "-"), '{"pm25": 50.3', "JSON không hợp lệ ở dòng 1", "invalid JSON at line 1"),
    (("aqi", "calc"), '[{"pm25": 20}, {"pm26": 5}]', "đầu vào số 2, khóa 'pm26' không dùng được",
     "input 2, key 'pm26' cannot be used"),
    (("aqi", "calc"), '{"pm25": NaN}', "giá trị không hữu hạn", "not a finite number"),
    (("aqi", "calc"), '{"pm25": "nhiều"}', "đầu vào số 1 không dùng được", "not a finite number"),
    (("aqi", "calc"), "[42]", "phải là một đối tượng JSON", "must be a JSON object"),
    (("aqi", "calc"), "", "không có dữ liệu vào", "the input is empty"),
    (("aqi", "calc", "--scheme", "eu"), "{}", "thang chỉ số không rõ", "unknown scheme 'eu'"),
    (("wqi", "calc", "-"), '{"pH": 7, "Mn": 0.1}', "khóa 'Mn' không dùng được", "unknown water-quality parameter"),
    (("wqi", "calc"), '{"DO": 6.1}', "khóa 'DO' không dùng được", "needs the water temperature"),
])
def test_bad_input_gives_a_bilingual_message_and_exit_code_2(args: tuple[str, ...], stdin: str, vi: str,
                                                             en: str) -> None:
    done = run_geo(*args, stdin=stdin)
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert vi in output and en in output
    assert output.index(vi) < output.index(en)          # Vietnamese first, then English


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    done = run_geo("wqi", "calc", str(missing))
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2
    assert "nowhere.json" in output and "không đọc được tệp / cannot read the file" in output
    assert "Traceback" not in output
