"""Stored WKB assembled from bytes and areas/lengths from projected coordinates, against GEOS/pyproj done the
plain way (promote in GEOS, write EWKB, transform whole geometries)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import shapely

from geo.geometry import _to_metric, family, metric_measures, storage_wkb


def _promote(g):  # type: ignore[no-untyped-def]
    """The storage family, built in GEOS."""
    if g is None:
        return None
    t = shapely.get_type_id(g)
    if t == 3:
        return shapely.MultiPolygon([g])
    if t in (1, 2):
        return shapely.MultiLineString([list(g.coords)])
    if t == 4 and len(g.geoms) == 1:
        return g.geoms[0]
    return g


def _ewkb(g, srid):  # type: ignore[no-untyped-def]
    return None if g is None else shapely.to_wkb(shapely.set_srid(g, srid), byte_order=1, include_srid=True,
                                                 output_dimension=2)


SAMPLES = np.array([
    shapely.Polygon([(106.6, 11), (106.61, 11), (106.61, 11.01), (106.6, 11)]),
    shapely.Polygon([(106.6, 11), (106.7, 11), (106.7, 11.1), (106.6, 11.1)],
                    [[(106.62, 11.02), (106.63, 11.02), (106.63, 11.03), (106.62, 11.02)],
                     [(106.65, 11.05), (106.66, 11.05), (106.66, 11.06), (106.65, 11.05)]]),
    shapely.MultiPolygon([shapely.box(106.6, 11, 106.61, 11.01), shapely.box(106.7, 11, 106.71, 11.02)]),
    shapely.LineString([(106.6, 11), (106.7, 11.05), (106.8, 11)]),
    shapely.LinearRing([(106.6, 11), (106.7, 11.05), (106.8, 11)]),
    shapely.MultiLineString([[(106.6, 11), (106.7, 11.05)], [(106.8, 11), (106.9, 11)]]),
    shapely.Point(106.6, 11),
    shapely.MultiPoint([(106.6, 11)]),
    shapely.MultiPoint([(106.6, 11), (106.7, 11)]),
    None,
], dtype=object)


@pytest.mark.parametrize("srid", [None, 4326])
def test_storage_wkb_is_the_promoted_geometry(srid):
    got = storage_wkb(SAMPLES, srid).to_pylist()
    if srid is None:
        want = [None if g is None else shapely.to_wkb(_promote(g), byte_order=1, output_dimension=2)
                for g in SAMPLES]
    else:
        want = [_ewkb(_promote(g), srid) for g in SAMPLES]
    assert got == want
    back = shapely.from_wkb(np.array(got, dtype=object))
    assert list(family(back)) == ["MultiPolygon"] * 3 + ["MultiLineString"] * 3 + ["Point"] * 2 + [None, None]


def test_source_wkb_is_reused_only_when_it_is_plain_little_endian_2d():
    geoms = SAMPLES[:7]
    plain = pa.array(shapely.to_wkb(geoms, byte_order=1), type=pa.binary())
    want = storage_wkb(geoms, 4326).to_pylist()
    assert storage_wkb(geoms, 4326, source=plain).to_pylist() == want
    # Big-endian, 3-D and missing sources are written again by GEOS (Z dropped): same bytes either way.
    z = shapely.force_3d(geoms, 5.0)
    mixed = pa.array([shapely.to_wkb(geoms[0], byte_order=0), shapely.to_wkb(z[1], byte_order=1), None,
                      *shapely.to_wkb(geoms[3:], byte_order=1)], type=pa.binary())
    assert storage_wkb(geoms, 4326, source=mixed).to_pylist() == want
    # A source that really is reused: its bytes are what gets stored (a marker coordinate proves it).
    moved = shapely.transform(geoms[:1], lambda xy: xy + 0.5)
    reused = storage_wkb(geoms[:1], 4326, source=pa.array(shapely.to_wkb(moved, byte_order=1)))
    assert shapely.equals(shapely.from_wkb(reused.to_pylist()[0]), shapely.MultiPolygon([moved[0]]))


def test_measures_equal_whole_geometry_transforms():
    metric = shapely.transform(np.array([_promote(g) for g in SAMPLES], dtype=object),
                               lambda xy: np.column_stack(_to_metric().transform(xy[:, 0], xy[:, 1])))
    area, length = metric_measures(SAMPLES)
    ids = shapely.get_type_id(SAMPLES)
    polys, lines = np.isin(ids, [3, 6]), np.isin(ids, [1, 2, 5])
    np.testing.assert_allclose(area[polys], shapely.area(metric[polys]) / 1e4, rtol=1e-12)
    np.testing.assert_allclose(length[lines], shapely.length(metric[lines]), rtol=1e-12)
    assert np.isnan(area[~polys]).all() and np.isnan(length[~lines]).all()
    # the two holes are subtracted: exterior minus the two triangles, each measured alone
    parts = metric_measures(np.array([shapely.Polygon(SAMPLES[1].exterior),
                                      *(shapely.Polygon(r) for r in SAMPLES[1].interiors)], dtype=object))[0]
    assert parts[1] > 0 and parts[2] > 0
    assert area[1] == pytest.approx(parts[0] - parts[1] - parts[2], rel=1e-12)


def test_measures_of_many_random_polygons():
    rng = np.random.default_rng(7)
    n = 500
    cx, cy = rng.uniform(106.4, 106.9, n), rng.uniform(10.9, 11.4, n)
    k = rng.integers(4, 15, n)
    polys = []
    for i in range(n):
        ang = np.sort(rng.uniform(0, 2 * np.pi, k[i]))
        r = rng.uniform(0.001, 0.01, k[i])
        polys.append(shapely.Polygon(np.column_stack([cx[i] + r * np.cos(ang), cy[i] + r * np.sin(ang)])))
    geoms = np.array(polys, dtype=object)
    metric = shapely.transform(geoms, lambda xy: np.column_stack(_to_metric().transform(xy[:, 0], xy[:, 1])))
    area, _ = metric_measures(geoms)
    np.testing.assert_allclose(area, shapely.area(metric) / 1e4, rtol=1e-11)
