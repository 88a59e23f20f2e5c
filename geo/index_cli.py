"""`geo aqi calc` and `geo wqi calc`: index calculators that read vector-shaped JSON inputs and print JSON results."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from geo.aqi_tables import SCHEMES
from geo.errors import InputError
from geo.index_vectors import calc_air, calc_water

STDIN = "-"

# Groups, not single commands, so that database-backed subcommands (`geo aqi station CODE`) can join `calc`.
aqi_app = typer.Typer(help="Chỉ số chất lượng không khí / air-quality index (VN_AQI, US EPA AQI)",
                      no_args_is_help=True)
wqi_app = typer.Typer(help="Chỉ số chất lượng nước / water-quality index (VN_WQI)", no_args_is_help=True)

FileArgument = Annotated[str, typer.Argument(
    help="Tệp JSON, '-' hoặc bỏ trống = stdin / JSON file; '-' or nothing reads stdin", show_default=False)]


class CalculatorInputError(InputError):
    """Input the calculator cannot use; exit code 2 as for any other misuse of a command."""

    exit_code = 2


def _read_text(source: str) -> tuple[str, str]:
    """The JSON text and a name for messages; bytes are decoded as UTF-8 (RFC 8259), a BOM tolerated."""
    if source == STDIN:
        name, data = "stdin", sys.stdin.buffer.read()
    else:
        name = source
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise CalculatorInputError(f"không đọc được tệp / cannot read the file ({exc.strerror})",
                                       file=name) from exc
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalculatorInputError(f"không phải văn bản UTF-8 / not UTF-8 text (byte {exc.start})",
                                   file=name) from exc


def read_inputs(source: str) -> tuple[list[Mapping[str, Any]], bool, str]:
    """The input objects, whether they came as a list, and the source's name for messages."""
    name, text = _read_text(source)
    if not text.strip():
        raise CalculatorInputError("không có dữ liệu vào / the input is empty", file=name)
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except _NotFinite as exc:
        raise CalculatorInputError(f"giá trị không hữu hạn / not a finite number: {exc}", file=name) from exc
    except json.JSONDecodeError as exc:
        raise CalculatorInputError(f"JSON không hợp lệ ở dòng {exc.lineno}, cột {exc.colno} / invalid JSON at "
                                   f"line {exc.lineno}, column {exc.colno}: {exc.msg}", file=name) from exc
    items = document if isinstance(document, list) else [document]
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise CalculatorInputError(f"đầu vào số {number} phải là một đối tượng JSON / input {number} must be "
                                       f"a JSON object, got {type(item).__name__}", file=name)
    return items, isinstance(document, list), name


class _NotFinite(ValueError):
    """NaN or Infinity in the JSON text."""


def _refuse_constant(constant: str) -> Any:
    # json accepts NaN and Infinity by default; a concentration can be neither, and NaN would pass for "missing".
    raise _NotFinite(constant)


def _evaluate(items: list[Mapping[str, Any]], name: str,
              calculate: Callable[[Mapping[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluate every input, naming the input number and key of the first that cannot be used."""
    results = []
    for number, item in enumerate(items, start=1):
        try:
            results.append(calculate(item))
        except InputError as exc:
            vi_key, en_key = (f", khóa '{exc.field}'", f", key '{exc.field}'") if exc.field else ("", "")
            raise CalculatorInputError(f"đầu vào số {number}{vi_key} không dùng được / input {number}{en_key} "
                                       f"cannot be used: {exc.reason}", file=name) from exc
    return results


def _print_json(results: list[dict[str, Any]], as_list: bool) -> None:
    text = json.dumps(results if as_list else results[0], ensure_ascii=False, indent=2, allow_nan=False)
    # JSON is UTF-8 whatever the terminal's locale; write bytes so a C locale cannot break the output.
    sys.stdout.buffer.write((text + "\n").encode("utf-8"))
    sys.stdout.flush()


@aqi_app.command("calc")
def aqi_calc(source: FileArgument = STDIN,
             scheme: Annotated[str, typer.Option("--scheme", help="vn (1459/QĐ-TCMT) | us (EPA 2024)")] = "vn",
             ) -> None:
    """Tính AQI từ nồng độ (JSON) / compute AQI from concentrations given as JSON.

    Keys as in the reference vectors' inputs: pm25_c1_to_c12, pm25_nowcast, pm25_24h, o3_1h, o3_8h_max,
    no2_1h, so2_1h_max, co_1h ... in µg/m³. One object or a list; prints one result per input.
    """
    if scheme not in SCHEMES:
        raise CalculatorInputError(f"thang chỉ số không rõ / unknown scheme {scheme!r}; expected one of "
                                   f"{list(SCHEMES)}", field="--scheme")
    items, as_list, name = read_inputs(source)
    _print_json(_evaluate(items, name, lambda item: calc_air(item, scheme)), as_list)


@wqi_app.command("calc")
def wqi_calc(source: FileArgument = STDIN) -> None:
    """Tính WQI từ một bộ mẫu (JSON) / compute VN_WQI from sample sets given as JSON.

    Keys as in the reference vectors' inputs: pH, T_C, DO, BOD5, COD, NNH4, PPO4, Coliform, As, Cu, ...,
    Aldrin_ugL ... One object or a list; prints one result per input.
    """
    items, as_list, name = read_inputs(source)
    _print_json(_evaluate(items, name, calc_water), as_list)


def register(app: typer.Typer) -> None:
    """Add the `aqi` and `wqi` command groups to the `geo` program (entry point group "geo.cli")."""
    app.add_typer(aqi_app, name="aqi")
    app.add_typer(wqi_app, name="wqi")
