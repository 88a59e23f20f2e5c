"""The former stored-index refresh (before the typed store tables), read from git, to compare old and new results.

The former writer stored ``detail`` jsonb rows in tables named aqi_hourly / aqi_daily, which are views now. In a
transaction, temporary tables of that name shadow the views (the temporary schema is searched first), so the
former code runs unchanged; the caller rolls back.
"""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
# The last commit with the former implementation of ingest/indices.py and ingest/index_store.py.
BASELINE = "096adcbc52ed063864a6f36a8306d41239ea9363"
_FORMER_TABLE = """CREATE TEMP TABLE {name} (
  station_code text NOT NULL, scheme text NOT NULL, {time} NOT NULL, aqi smallint, category text, dominant text,
  provisional boolean NOT NULL DEFAULT false, beyond_scale boolean NOT NULL DEFAULT false, detail jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (station_code, scheme, {key})) ON COMMIT DROP"""


def former_module(rev: str = BASELINE) -> types.ModuleType | None:
    """ingest.indices as of ``rev`` (with its own index_store), or None when git or the commit is unavailable."""
    def source(path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout

    try:
        store_text, indices_text = source("ingest/index_store.py"), source("ingest/indices.py")
    except (OSError, subprocess.CalledProcessError):
        return None
    store = types.ModuleType("former_index_store")
    sys.modules["former_index_store"] = store
    exec(compile(store_text, f"git:{rev}:ingest/index_store.py", "exec"), store.__dict__)
    module = types.ModuleType("former_indices")
    sys.modules["former_indices"] = module
    text = indices_text.replace("from ingest.index_store import", "from former_index_store import")
    exec(compile(text, f"git:{rev}:ingest/indices.py", "exec"), module.__dict__)
    return module


def shadow_views(conn: psycopg.Connection) -> None:
    """Temporary aqi_hourly / aqi_daily tables of the former shape, in front of the views, for this transaction."""
    conn.execute(_FORMER_TABLE.format(name="aqi_hourly", time="hour_end timestamptz", key="hour_end"))
    conn.execute(_FORMER_TABLE.format(name="aqi_daily", time="day date", key="day"))
