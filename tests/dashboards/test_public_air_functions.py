"""The public page's figure and data functions and its callbacks, as plain functions."""
from __future__ import annotations

import pandas as pd
import pytest
from dash import html

from dashboards import air_data
from dashboards.context import AppContext
from dashboards.figures.air_charts import aqi_chart, concentration_chart
from dashboards.figures.air_map import NO_DATA_COLOUR, station_map
from dashboards.figures.basemap import BLANK_STYLE
from dashboards.i18n import catalogue, t
from dashboards.pages import public_air
from geo.aqi import category_for


def _stations() -> pd.DataFrame:
    return pd.DataFrame({"code": ["A", "B"], "name_vi": ["Trạm A", "Trạm B"], "name_en": ["Station A", None],
                         "lon": [106.7, 106.6], "lat": [11.0, 11.1], "aqi": [120, None],
                         "category": ["Kém", None]})


def test_catalogues_have_the_same_keys():
    assert set(catalogue("vi")) == set(catalogue("en"))


def test_map_colours_by_category_and_never_shows_missing_as_good():
    fig = station_map(_stations(), "vn", "vi", "blank")
    markers = fig.data[1]
    assert list(markers.marker.color) == [category_for(120, "vn").hex, NO_DATA_COLOUR]
    assert NO_DATA_COLOUR != category_for(0, "vn").hex
    assert list(markers.text) == ["120", "–"]
    assert "không có số liệu" in markers.hovertext[1]
    assert fig.layout.map.style == BLANK_STYLE


def test_map_labels_follow_language_and_scheme():
    fig = station_map(_stations(), "us", "en", "carto-positron")
    assert "US AQI" in fig.data[1].hovertext[0] and "Station A" in fig.data[1].hovertext[0]
    assert "Trạm B" in fig.data[1].hovertext[1]  # no English name: falls back to Vietnamese


def test_aqi_chart_has_category_bands_and_names_the_scheme():
    series = pd.DataFrame({"hour_end": pd.date_range("2025-01-01", periods=3, freq="h", tz="UTC"),
                           "aqi": [40, 80, 160], "category": ["Tốt", "Trung bình", "Xấu"]})
    fig = aqi_chart(series, "vn", "en", daily=False)
    assert "VN_AQI" in fig.layout.title.text
    assert len(fig.layout.shapes) >= 4  # bands up to the max
    assert aqi_chart(series.iloc[0:0], "vn", "vi").layout.annotations[0].text == t("chart.empty", "vi")


def test_concentration_chart_draws_qcvn_limit_lines():
    rows = pd.DataFrame({"measured_at": pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC"),
                         "parameter": "pm25", "value": 30.0})
    fig = concentration_chart(rows, "pm25", [("24h", 50.0)], "vi")
    assert any(s.y0 == 50.0 for s in fig.layout.shapes)
    assert "QCVN 05" in fig.layout.annotations[0].text
    assert len(fig.data) == 2  # hourly values and 24-h means


def test_texts_switch_language():
    vi, en = public_air.texts("vi"), public_air.texts("en")
    assert vi[0] == t("app.title", "vi") and en[0] == t("app.title", "en") and vi[0] != en[0]
    assert vi[2] == "English" and en[2] == "Tiếng Việt"


@pytest.fixture(scope="module")
def actx(air_db, app_settings) -> AppContext:
    return AppContext.build(app_settings)


def test_current_stations_include_no_data_ones(actx):
    cur = public_air.current(actx, "vn")
    silent = cur[cur.code.isin(["SMP-ĐT7", "SMP-GT9"])]
    assert len(silent) == 2 and silent["aqi"].isna().all()
    assert cur[~cur.code.isin(silent.code)]["aqi"].notna().all()


def test_panel_callback_shows_index_advice_method(actx):
    cur = public_air.current(actx, "vn")
    code = cur.dropna(subset=["aqi"]).iloc[0]["code"]
    div = public_air.panel(actx, code, "vn", "vi")
    text = str(div)
    assert "Quyết định 1459/QĐ-TCMT" in text and "Nhóm nhạy cảm" in text
    assert str(int(cur.set_index("code").loc[code, "aqi"])) in text
    nodata = str(public_air.panel(actx, "SMP-ĐT7", "vn", "en"))
    assert "no data in the last 3 hours" in nodata
    assert isinstance(public_air.panel(actx, None, "vn", "vi"), html.P)


def test_choose_station_by_tap_and_by_location(actx):
    code, msg = public_air.choose_station(actx, {"points": [{"customdata": "SMP-ĐT3", "lon": 0, "lat": 0}]},
                                          None, public_air.Ids.map, "vi")
    assert code == "SMP-ĐT3" and msg == ""
    code, msg = public_air.choose_station(actx, {"points": [{"customdata": "", "lon": 106.661, "lat": 10.986}]},
                                          None, public_air.Ids.map, "en")
    assert code == "SMP-ĐT3" and msg.startswith("Nearest station")
    code, msg = public_air.choose_station(actx, None, {"lat": None}, public_air.Ids.geolocation, "vi")
    assert code is None and msg == t("locate.denied", "vi")
    code, msg = public_air.choose_station(actx, None, {"lat": 11.05, "lon": 106.68}, public_air.Ids.geolocation,
                                          "vi", asked=False)
    assert (code, msg) == (None, "")  # a position the user did not ask for changes nothing
    code, msg = public_air.choose_station(actx, None, {"lat": 11.056, "lon": 106.677}, public_air.Ids.geolocation,
                                          "vi", asked=True)
    assert code == "SMP-ĐT4" and msg.startswith("Trạm gần nhất")
    near = air_data.nearest_station(actx.engine, 106.677, 11.056)
    assert near["code"] == "SMP-ĐT4" and near["km"] < 1


def test_charts_callback_returns_two_figures(actx):
    cur = public_air.current(actx, "vn")
    code = cur.dropna(subset=["aqi"]).iloc[0]["code"]
    for span in ("24h", "7d", "30d"):
        fig, conc = public_air.charts(actx, code, "vn", "vi", span, "pm25")
        assert len(fig.data) == 1 and len(fig.data[0].x) > 0
        assert any(s.y0 == 50.0 or s.y0 == 45.0 for s in conc.layout.shapes)


def test_cache_is_invalidated_by_a_load(actx, air_db):
    actx.cache.clear()
    before = public_air.current(actx, "vn")
    hits = actx.cache.hits
    public_air.current(actx, "vn")
    assert actx.cache.hits == hits + 1
    with air_db.begin() as conn:
        conn.exec_driver_sql("UPDATE data_versions SET version = version + 1 WHERE layer = 'measurements'")
    misses = actx.cache.misses
    after = public_air.current(actx, "vn")
    assert actx.cache.misses == misses + 1 and len(after) == len(before)
