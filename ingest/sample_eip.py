"""Sample eco-park data: enterprises and symbiosis links (files), and parks at different conversion stages (tables)."""
from __future__ import annotations

import random
from datetime import date
from typing import TYPE_CHECKING, Any

import shapely
from shapely.geometry import LineString, Point
from sqlalchemy import Engine, text

from geo import eip_assess, eip_certificates
from geo.eip_register import sync_registers
from geo.eip_workflow import Change, change_status
from ingest.sample_shapes import snap
from layers.enterprises import SECTORS
from layers.symbiosis_links import LINK_TYPES

if TYPE_CHECKING:  # ingest.sample imports this module at its end; names it shares are imported where used
    from ingest.sample import Feature, World

# park → (number of enterprises, probability that a flag is true); Cây Trường has none yet (under construction).
FIRMS = {"SMP-KCN-VSIP1": (10, 0.9), "SMP-KCN-VSIP2": (8, 0.8), "SMP-KCN-MP3": (8, 0.7), "SMP-KCN-BB": (6, 0.5),
         "SMP-KCN-NTU": (8, 0.85), "SMP-KCN-ST2": (5, 0.3), "SMP-KCN-TB": (4, 0.2)}
FLAGS = ("recp_aware", "recp_applied", "symbiosis_plan", "discloses_information", "has_grievance_rules",
         "gender_equality", "anti_harassment")
# (code, from, to, type, started_on, quantity, unit); DN codes are park abbreviation + number.
LINKS = (("01", "VSIP1-01", "VSIP1-02", "waste_scrap", "2021-03-01", 120.0, "t/năm"),
         ("02", "VSIP1-03", "VSIP1-04", "water", "2022-06-15", 36000.0, "m³/năm"),
         ("03", "VSIP1-05", "VSIP1-06", "energy", "2023-01-10", 800.0, "MWh/năm"),
         ("04", "VSIP1-02", "VSIP1-07", "materials", "2023-09-01", 60.0, "t/năm"),
         ("05", "VSIP2-01", "VSIP2-02", "shared_infrastructure", "2024-02-01", None, None),
         ("06", "VSIP2-03", "VSIP2-04", "waste_scrap", "2024-05-20", 45.0, "t/năm"),
         ("07", "NTU-01", "NTU-02", "materials", "2022-11-01", 200.0, "t/năm"),
         ("08", "NTU-03", "NTU-04", "energy", "2023-04-01", 350.0, "MWh/năm"),
         ("09", "MP3-01", "MP3-02", "water", "2025-03-01", 12000.0, "m³/năm"),
         # Between two parks: it counts for both VSIP I and Sóng Thần 2.
         ("10", "VSIP1-08", "ST2-01", "waste_scrap", "2024-08-01", 30.0, "t/năm"))
STAGES: dict[str, tuple[tuple[str, str, str | None, str | None], ...]] = {
    # park → (status, effective_on, evidence or certificate no., certificate date) in order
    "SMP-KCN-VSIP1": (("assessing", "2024-03-01", None, None), ("meets_criteria", "2024-12-01", None, None),
                      ("dossier_submitted", "2025-03-10", "SMP-HS-VSIP1/2025", None),
                      ("certified", "2025-09-15", "SMP-GCN-KCNST-01/2025", "2025-09-15")),
    "SMP-KCN-NTU": (("assessing", "2023-02-01", None, None), ("meets_criteria", "2023-10-01", None, None),
                    ("dossier_submitted", "2024-01-15", "SMP-HS-NTU/2024", None),
                    ("certified", "2024-06-20", "SMP-GCN-KCNST-02/2024", "2024-06-20")),
    "SMP-KCN-ST2": (("assessing", "2022-09-01", None, None), ("meets_criteria", "2022-12-01", None, None),
                    ("dossier_submitted", "2023-01-10", "SMP-HS-ST2/2023", None),
                    ("certified", "2023-05-05", "SMP-GCN-KCNST-03/2023", "2023-05-05"),
                    ("revoked", "2025-04-01", "SMP-QĐ-THUHOI-ST2/2025", None)),
    "SMP-KCN-VSIP2": (("assessing", "2024-06-01", None, None), ("meets_criteria", "2025-05-01", None, None),
                      ("dossier_submitted", "2025-10-01", "SMP-HS-VSIP2/2025", None)),
    "SMP-KCN-MP3": (("assessing", "2025-01-15", None, None), ("meets_criteria", "2025-11-01", None, None)),
    "SMP-KCN-BB": (("assessing", "2025-02-14", None, None),),  # WB feasibility study launched 14 Feb 2025
}
EVIDENCE_CRITERIA = ("D35-37.1a", "D35-37.1c", "D35-37.1d")
DECLARED = ("A5-PM.1", "A5-PM.2", "A5-PM.3", "A5-ENV.4", "A5-SOC.3", "A5-SOC.5", "A5-SOC.7", "A5-ECO.1", "A5-ECO.3",
            "A5-ECO.5", "A5-ECO.6")
WHO = "geo sample"
# Eco-enterprise certificates (firm, number, issue date, decision); the issuing body defaults to the board in force.
CERTIFICATES = (("SMP-DN-NTU-01", "SMP-GCN-DNST-01/2024", "2024-08-01", "SMP-QĐ-DNST-01/2024"),
                ("SMP-DN-VSIP1-01", "SMP-GCN-DNST-02/2025", "2025-10-01", "SMP-QĐ-DNST-02/2025"))


def _firm_points(rng: random.Random, factories: list[shapely.Geometry], n: int) -> list[Point]:
    """``n`` points on factory land, spread over the factory blocks, deterministic for the seed."""
    out: list[Point] = []
    for i in range(n):
        block = factories[i % len(factories)]
        minx, miny, maxx, maxy = block.bounds
        for _ in range(200):
            p = snap(Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy)))
            if block.contains(p):
                break
        else:
            p = snap(block.point_on_surface())
        out.append(p)
    return out


def enterprise_features(world: World, seed: int) -> list[Feature]:
    from ingest.sample import _props
    out: list[Feature] = []
    for park, (n, p_true) in FIRMS.items():
        rng = random.Random(f"{seed}:firms:{park}")
        short = park.removeprefix("SMP-KCN-")
        factories = [g for kind, g in world.zones[park] if kind == "factory"]
        for i, pt in enumerate(_firm_points(rng, factories, n), start=1):
            flags: dict[str, Any] = {f: rng.random() < p_true for f in FLAGS}
            if rng.random() < 0.15:  # some answers not collected: the assessment must carry the uncertainty
                flags[rng.choice(FLAGS)] = None
            out.append((_props("enterprises", code=f"SMP-DN-{short}-{i:02d}", name_vi=f"Công ty mẫu {short}-{i:02d}",
                               name_en=f"Sample company {short}-{i:02d}", park_code=park,
                               sector=SECTORS[rng.randrange(len(SECTORS))], workers=rng.choice((60, 150, 400, 1200)),
                               **flags), pt))
    return out


def link_features(world: World, seed: int) -> list[Feature]:
    """Lines between the two firms' points (the file carries them; `geo eip links` builds them when absent)."""
    from ingest.sample import _props
    points = {props["code"]: geom for props, geom in enterprise_features(world, seed)}
    out: list[Feature] = []
    for code, a, b, kind, started, qty, unit in LINKS:
        fa, fb = f"SMP-DN-{a}", f"SMP-DN-{b}"
        if kind not in LINK_TYPES:  # a typo here is a bug of this module, not bad input
            raise ValueError(f"sample link {code}: unknown type {kind}")
        out.append((_props("symbiosis_links", code=f"SMP-CS-{code}", from_enterprise=fa, to_enterprise=fb,
                           link_type=kind, started_on=started, quantity=qty, unit=unit),
                    snap(LineString([points[fa], points[fb]]))))
    return out


def _stages(conn: Any) -> None:
    for park, steps in STAGES.items():
        for status, eff, ref, cert_date in steps:
            certified = status == "certified"
            change_status(conn, Change(park, status, WHO, f"Mẫu: {status} / sample step", date.fromisoformat(eff),
                                       evidence_ref=None if certified else ref,
                                       certificate_no=ref if certified else None,
                                       certificate_date=date.fromisoformat(cert_date) if cert_date else None))


def _records(conn: Any) -> None:
    for i, park in enumerate(STAGES):
        rng = random.Random(f"eip-records:{park}")
        for crit in EVIDENCE_CRITERIA[: 3 - (i // 2)]:
            conn.execute(text("INSERT INTO eip_evidence (park_code, criterion_code, document_ref, document_date, "
                              "reviewed_by, reviewed_on, accepted) VALUES (:p, :c, :d, '2024-12-01', "
                              "'Cán bộ BQL (mẫu)', '2025-01-10', :a)"),
                         {"p": park, "c": crit, "d": f"SMP-VB-{crit}-{i}", "a": rng.random() < 0.85})
        for crit in DECLARED:
            if rng.random() < 0.8:
                conn.execute(text("INSERT INTO eip_declarations (park_code, criterion_code, value_bool, declared_on, "
                                  "declared_by, source_ref) VALUES (:p, :c, :v, '2025-01-05', 'Chủ đầu tư (mẫu)', "
                                  "'Mẫu A.5 (mẫu)')"), {"p": park, "c": crit, "v": rng.random() < 0.75})
        conn.execute(text("INSERT INTO eip_declarations (park_code, criterion_code, value_number, declared_on, "
                          "declared_by, source_ref) VALUES (:p, 'A5-ENV.3', :v, '2025-01-05', 'Chủ đầu tư (mẫu)', "
                          "'Mẫu A.5 (mẫu)')"), {"p": park, "v": round(rng.uniform(5, 40), 1)})


def load_workflow(engine: Engine, on: date | None = None) -> bool:
    """Statuses, evidence, declarations and one stored assessment per sample park; once (False if present)."""
    with engine.begin() as conn:
        sync_registers(conn)
        if conn.execute(text("SELECT 1 FROM eip_status_history WHERE park_code LIKE 'SMP-%' LIMIT 1")).first():
            return False
        _stages(conn)
        _records(conn)
        for firm, number, issued, decision in CERTIFICATES:
            if conn.execute(text("SELECT 1 FROM enterprises WHERE code = :e"), {"e": firm}).first():
                eip_certificates.record(conn, eip_certificates.NewCertificate(
                    firm, number, date.fromisoformat(issued), decision, WHO))
        parks = [r[0] for r in conn.execute(text("SELECT code FROM industrial_parks WHERE code LIKE 'SMP-%' "
                                                 "ORDER BY code"))]
        for park in parks:
            eip_assess.store(conn, eip_assess.assess(conn, park, on or date.today()), WHO)
    return True
