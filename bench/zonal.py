"""Benchmark: the platform's zonal statistics (exactextract) against rasterstats, with areas checked against exact.

Run from the repository root (see bench/zonal.md):

    python bench/zonal.py                      # 10 m raster of the province bbox, 46 admin units + 5,000 small polygons
    python bench/zonal.py --res 20 --small 1000

The raster is built from known geometry: blocks of 37 × 23 pixels (370 m × 230 m at 10 m), each a random class of
{10 tree, 40 crop, 50 built}, pixel-aligned. The exact forest area of any polygon is therefore the area of its
intersection with the union of the tree blocks (shapely, in the same UTM 48N coordinates). Both methods get the same
reprojected polygons in ONE run; the script prints seconds, the ratio, and each method's area error against exact.
It is a benchmark, not a timed test.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ROOT.parent / "shared" / "data" / "admin"
BLOCK = (23, 37)      # rows, cols of one class block
CLASSES = np.array([10, 40, 50], dtype="uint8")
FOREST = 10
BBOX_UTM = (643_000.0, 1_199_000.0, 715_000.0, 1_272_000.0)   # lon 106.33–106.98, lat 10.85–11.50 in EPSG:32648


def make_raster(path: Path, res: float, seed: int = 7) -> tuple[np.ndarray, object]:
    """Write the class raster; return the block classes and the transform."""
    x0, y0, x1, y1 = BBOX_UTM
    w, h = int((x1 - x0) / res), int((y1 - y0) / res)
    rng = np.random.default_rng(seed)
    blocks = CLASSES[rng.integers(0, 3, size=(-(-h // BLOCK[0]), -(-w // BLOCK[1])))]
    data = np.repeat(np.repeat(blocks, BLOCK[0], axis=0), BLOCK[1], axis=1)[:h, :w]
    transform = from_origin(x0, y1, res, res)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8", nodata=0,
                       crs="EPSG:32648", transform=transform, tiled=True, blockxsize=512, blockysize=512,
                       compress="deflate") as ds:
        ds.write(data, 1)
    return blocks, transform


def forest_blocks(blocks: np.ndarray, transform: object, res: float) -> shapely.STRtree:
    x0, y1 = transform.c, transform.f
    rows, cols = np.nonzero(blocks == FOREST)
    bw, bh = BLOCK[1] * res, BLOCK[0] * res
    boxes = shapely.box(x0 + cols * bw, y1 - (rows + 1) * bh, x0 + (cols + 1) * bw, y1 - rows * bh)
    # Blocks at the raster's right/bottom edge are clipped by the raster extent.
    return shapely.STRtree(shapely.intersection(boxes, shapely.box(*BBOX_UTM)))


def exact_forest(polys: gpd.GeoSeries, tree: shapely.STRtree) -> np.ndarray:
    """Exact forest area per polygon: blocks inside count whole, blocks on the boundary are clipped."""
    out = np.zeros(len(polys))
    geoms = tree.geometries
    for i, poly in enumerate(polys):
        shapely.prepare(poly)
        idx = tree.query(poly, predicate="intersects")
        cand = geoms[idx]
        inside = shapely.contains_properly(poly, cand)
        out[i] = shapely.area(cand[inside]).sum() + shapely.area(shapely.intersection(cand[~inside], poly)).sum()
    return out


def polygons(n_small: int, seed: int = 11) -> gpd.GeoDataFrame:
    """All admin units of both versions (46) plus ``n_small`` small polygons (hexagons, 50–400 m radius)."""
    files = ["bd_province_pre2025_dvhcvn.geojson", "bd_districts_pre2025_dvhcvn.geojson",
             "bd_wards_post2025_sapnhap.geojson"]
    admin = gpd.GeoDataFrame(geometry=list(gpd.pd.concat([gpd.read_file(ADMIN / f).geometry for f in files])),
                             crs=4326).to_crs(32648)
    rng = np.random.default_rng(seed)
    province = admin.geometry.iloc[0]
    pts = []
    while len(pts) < n_small:
        p = shapely.Point(rng.uniform(BBOX_UTM[0], BBOX_UTM[2]), rng.uniform(BBOX_UTM[1], BBOX_UTM[3]))
        if province.contains(p):
            pts.append(p)
    radius = rng.uniform(50, 400, n_small)
    angle = rng.uniform(0, np.pi / 3, n_small)
    small = [shapely.Polygon([(p.x + r * np.cos(a + k * np.pi / 3), p.y + r * np.sin(a + k * np.pi / 3))
                              for k in range(6)]) for p, r, a in zip(pts, radius, angle)]
    geoms = list(admin.geometry) + small
    return gpd.GeoDataFrame({"fkey": [str(i) for i in range(len(geoms))],
                             "kind": ["admin"] * len(admin) + ["small"] * n_small}, geometry=geoms, crs=32648)


def _clock() -> tuple[float, float]:
    # Wall and CPU time of this process: the CPUs here are shared with other work, so the CPU seconds are the
    # steadier measure of each method's own cost (both methods are single-threaded).
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return now[0] - start[0], now[1] - start[1]


def run_platform(raster: Path, polys: gpd.GeoDataFrame) -> tuple[tuple[float, float], np.ndarray]:
    from geo.raster_products import get_product
    from geo.zonal import zonal_stats
    t = _clock()
    out = zonal_stats(raster, polys, get_product("esa_worldcover"))
    seconds = _since(t)
    forest = out[out.metric == "forest"].set_index("fkey").area_m2.reindex(polys.fkey).to_numpy(dtype=float)
    return seconds, forest


def run_rasterstats(raster: Path, polys: gpd.GeoDataFrame, res: float) -> tuple[tuple[float, float], np.ndarray]:
    from rasterstats import zonal_stats as rs_zonal
    t = _clock()
    stats = rs_zonal(list(polys.geometry), str(raster), categorical=True)
    seconds = _since(t)
    return seconds, np.array([s.get(FOREST, 0) * res * res for s in stats], dtype=float)


def error_line(name: str, got: np.ndarray, exact: np.ndarray, mask: np.ndarray) -> str:
    e, g = exact[mask], got[mask]
    total = abs(g.sum() - e.sum()) / e.sum()
    nz = e > 0
    per = np.abs(g[nz] - e[nz]) / e[nz]
    return (f"  {name:12s} total {100 * total:.5f} %   per-polygon median {100 * np.median(per):.4f} %   "
            f"max {100 * per.max():.3f} %")


def _ratio_row(label: str, p: tuple[float, float], r: tuple[float, float]) -> str:
    return (f"| {label} | {p[0]:.2f} / {p[1]:.2f} | {r[0]:.2f} / {r[1]:.2f} | {r[0] / p[0]:.2f}× | "
            f"{r[1] / p[1]:.2f}× |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, default=10.0)
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--split", action="store_true", help="also time admin and small polygons separately")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    raster = args.out / f"zonal_classes_{args.res:g}m.tif"
    blocks, transform = make_raster(raster, args.res)
    with rasterio.open(raster) as ds:
        print(f"raster: {ds.width} × {ds.height} = {ds.width * ds.height / 1e6:.1f} M pixels at {args.res:g} m "
              f"(EPSG:32648, province bbox)")
    polys = polygons(args.small)
    inside = polys.geometry.iloc[0].area / args.res ** 2
    print(f"pixels inside the former province: {inside / 1e6:.1f} M (the issue's ~27 M; every admin polygon "
          "lies there)")
    print(f"polygons: {int((polys.kind == 'admin').sum())} admin units (both versions) + {args.small} small")
    exact = exact_forest(polys.geometry, forest_blocks(blocks, transform, args.res))
    # Warm both up on one small polygon (imports, PROJ database, GDAL drivers) so neither pays start-up costs.
    run_platform(raster, polys.tail(1))
    run_rasterstats(raster, polys.tail(1), args.res)
    t_p, platform = run_platform(raster, polys)
    t_r, rs = run_rasterstats(raster, polys, args.res)
    print("| polygons | platform wall / CPU s | rasterstats wall / CPU s | ratio wall | ratio CPU |")
    print("|---|---|---|---|---|")
    print(_ratio_row(f"all {len(polys)}", t_p, t_r))
    if args.split:
        for kind in ("admin", "small"):
            sub = polys[polys.kind == kind]
            print(_ratio_row(f"{kind} {len(sub)}", run_platform(raster, sub)[0],
                             run_rasterstats(raster, sub, args.res)[0]))
    print("goal: ratio ≥ 4×")
    for label, mask in (("all", np.ones(len(polys), bool)), ("admin", (polys.kind == "admin").to_numpy()),
                        ("small", (polys.kind == "small").to_numpy())):
        print(f"forest-area error vs exact, {label} polygons:")
        print(error_line("platform", platform, exact, mask))
        print(error_line("rasterstats", rs, exact, mask))
    return 0


if __name__ == "__main__":
    sys.exit(main())
