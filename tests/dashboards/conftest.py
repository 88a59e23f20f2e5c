"""A database with the sample layers and 40 days of synthetic hourly readings, and a running app server."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from waitress.server import create_server

from dashboards.app import create_app
from dashboards.context import AppSettings
from geo.db import raw_connection
from dashboards.access_admin import ensure_db_roles
from geo.settings import AreaSettings, IngestSettings, SecuritySettings, WebSettings
from ingest import indices, ledger
from ingest.sample import generate, load_sample
from ingest.sample_readings import air_readings, end_hour
from tests.conftest import ARTIFACTS, truncate_all

DAYS = 40
CHROMIUM = "/usr/bin/chromium"  # Debian's Chromium; Playwright's own browser download does not work offline
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
SHOTS = ARTIFACTS / "screenshots"


def store_readings(engine, frame) -> None:  # type: ignore[no-untyped-def]
    """COPY readings straight into measurements (the observation readers have their own tests)."""
    with raw_connection(engine) as conn:
        run = ledger.start(conn, ledger.RunStart("load", "measurements", "pytest", {"synthetic": True}))
        conn.execute("SELECT ensure_measurement_partitions(%s, %s)",
                     (frame["time"].min().to_pydatetime(), frame["time"].max().to_pydatetime()))
        with conn.cursor() as cur, cur.copy("COPY measurements (station_code, parameter, measured_at, period, "
                                            "value, qc_flag, ingest_run_id) FROM STDIN") as cp:
            for r in frame.itertuples():
                value = None if r.value != r.value else float(r.value)
                cp.write_row((r.station, r.parameter, r.time.to_pydatetime(), "1h", value, r.flag, run))
        stations = sorted(frame["station"].unique())
        indices.refresh(conn, stations, frame["time"].min().to_pydatetime(), frame["time"].max().to_pydatetime())
        ledger.finish(conn, run, "succeeded", n_inserted=len(frame))
        conn.commit()


@pytest.fixture(scope="package")
def air_db(engine, tmp_path_factory):
    truncate_all(engine)
    manifest = generate(tmp_path_factory.mktemp("sample"))
    load_sample(engine, manifest, ingest_settings=IngestSettings(reports_dir=tmp_path_factory.mktemp("r")),
                area=AreaSettings())
    with engine.connect() as conn:
        codes = [r[0] for r in conn.exec_driver_sql(
            "SELECT code FROM monitoring_stations WHERE medium = 'air' ORDER BY code")]
    store_readings(engine, air_readings(codes, end_hour(), days=DAYS))
    yield engine
    truncate_all(engine)


APP_ROLE, READER_ROLE = "geo_app_test", "geo_reader_test"


@pytest.fixture(scope="package")
def app_settings(db_settings, air_db) -> AppSettings:
    """The app as deployed: its own least-privilege role, a read-only role for public paths."""
    ensure_db_roles(air_db, APP_ROLE, READER_ROLE, None)
    return AppSettings(database=db_settings, web=WebSettings(basemap="blank", threads=4),
                       security=SecuritySettings(secure_cookies=False, app_db_user=APP_ROLE,
                                                 reader_db_user=READER_ROLE))


@pytest.fixture(scope="package")
def app(air_db, app_settings):
    return create_app(app_settings)


@pytest.fixture(scope="package")
def server_url(app) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = create_server(app.server, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.close()


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for every browser test of the package."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
