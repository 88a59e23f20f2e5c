"""The rejects report: one CSV row per problem (record, key, field, reason, severity) beside the run."""
from __future__ import annotations

import csv
from pathlib import Path

from ingest.checks import Problem


def write_rejects(problems: list[Problem], reports_dir: Path, run_id: int | None, file_name: str) -> Path | None:
    """Write ``run_<id>_<file>.rejects.csv``; nothing is written when there are no problems."""
    if not problems:
        return None
    reports_dir.mkdir(parents=True, exist_ok=True)
    stem = f"run_{run_id}" if run_id is not None else "dry_run"
    path = reports_dir / f"{stem}_{Path(file_name).name}.rejects.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "record", "key", "field", "severity", "reason"])
        for p in sorted(problems, key=lambda p: (p.record, p.severity)):
            w.writerow([file_name, p.record, p.key, p.field or "", p.severity, p.reason])
    return path.resolve()
