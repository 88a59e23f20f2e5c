"""Symbiosis-link files without geometry: the line is built from the two enterprises' points, then the usual pipeline."""
from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from sqlalchemy import Engine, text

from geo.errors import InputError
from geo.settings import AreaSettings, IngestSettings
from ingest.pipeline import LoadOptions, LoadResult, ingest_file
from layers import REGISTRY

FROM_NAMES = ("from_enterprise", "tu_doanh_nghiep", "from")
TO_NAMES = ("to_enterprise", "den_doanh_nghiep", "to")


def _column(header: list[str], names: tuple[str, ...], file: str) -> str:
    for h in header:
        if h.strip().lower() in names:
            return h
    raise InputError(f"thiếu cột / missing column {names[0]}", file=file)


def with_lines(engine: Engine, path: Path, out_dir: Path) -> Path:
    """Copy a links CSV adding a WKT line between the two firms' points; an unknown firm names its row."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InputError("tệp không có dòng nào / the file has no rows", file=path.name)
    header = list(rows[0])
    a_col, b_col = _column(header, FROM_NAMES, path.name), _column(header, TO_NAMES, path.name)
    codes = sorted({r[a_col].strip() for r in rows} | {r[b_col].strip() for r in rows})
    with engine.connect() as conn:
        points = dict(conn.execute(text("SELECT code, ST_AsText(geom) FROM enterprises WHERE code = ANY(:c)"),
                                   {"c": codes}).all())
    for i, r in enumerate(rows, start=2):  # line 1 is the header
        for col in (a_col, b_col):
            if r[col].strip() not in points:
                raise InputError(f"không có doanh nghiệp / no enterprise {r[col]!r}: load enterprises first",
                                 file=path.name, row=i, field=col)
        a, b = (points[r[c].strip()].removeprefix("POINT(").rstrip(")") for c in (a_col, b_col))
        r["wkt"] = f"LINESTRING({a}, {b})"
    out = out_dir / f"{path.stem}_lines.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*header, "wkt"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out


def load_links(engine: Engine, path: Path, options: LoadOptions, *, ingest_settings: IngestSettings,
               area: AreaSettings, who: str | None = None) -> LoadResult:
    """Load a links file; a CSV without geometry gets its lines from the enterprises table first."""
    spec = REGISTRY.get("symbiosis_links")
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return ingest_file(engine, spec, path, options, ingest_settings=ingest_settings, area=area, who=who)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = [h.strip().lower() for h in next(csv.reader(fh), [])]
    if "wkt" in header or "geometry" in header:
        return ingest_file(engine, spec, path, options, ingest_settings=ingest_settings, area=area, who=who)
    with tempfile.TemporaryDirectory() as tmp:
        built = with_lines(engine, path, Path(tmp))
        options.crs = options.crs or "EPSG:4326"  # the lines come from stored points, always WGS 84
        return ingest_file(engine, spec, built, options, ingest_settings=ingest_settings, area=area, who=who)
