"""The eco-industrial-park criteria register as versioned data: files in geo/data, tables by version."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import Connection, text

from geo.errors import GeoError

DATA_DIR = Path(__file__).with_name("data")
FILE_GLOB = "eip_criteria_*.yaml"
CATEGORIES = ("park_management", "environmental", "social", "economic")  # International EIP Framework v2.0
LEVELS = ("park", "enterprise")
EVALUATIONS = ("computed", "evidence", "declared")
OPERATORS = (">=", "<=", ">", "<", "==")
CONFIDENCE = ("CONFIRMED", "UNCONFIRMED")
VERSION_RE = re.compile(r"\d+(\.\d+)*")  # numeric, so that versions valid from the same day order by number


class RegisterError(GeoError):
    """A criteria register file or version is unusable."""


@dataclass(frozen=True)
class Criterion:
    """One criterion of one register version."""

    code: str
    category: str
    level: str
    evaluation: str
    legal_basis: str
    confidence: str
    title_vi: str
    title_en: str
    metric: str | None = None
    operator: str | None = None
    threshold: float | None = None
    unit: str | None = None
    threshold_basis: str | None = None

    @property
    def is_reference(self) -> bool:
        """A threshold users must see as "reference (unconfirmed for Decree 35)", never as a legal requirement."""
        return self.threshold is not None and self.confidence == "UNCONFIRMED"


@dataclass(frozen=True)
class Register:
    version: str
    valid_from: date
    title_vi: str
    title_en: str
    sha256: str
    criteria: tuple[Criterion, ...]

    def park_criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.level == "park")

    def enterprise_criteria(self) -> tuple[Criterion, ...]:
        """Criteria evaluated for each enterprise (Decree 35 Art. 37(2), Circular 05 form B.5)."""
        return tuple(c for c in self.criteria if c.level == "enterprise")


def _check(c: Criterion, where: str) -> None:
    problems = []
    if c.category not in CATEGORIES:
        problems.append(f"category {c.category!r} not in {CATEGORIES}")
    if c.level not in LEVELS:
        problems.append(f"level {c.level!r}")
    if c.evaluation not in EVALUATIONS:
        problems.append(f"evaluation {c.evaluation!r}")
    if c.confidence not in CONFIDENCE:
        problems.append(f"confidence {c.confidence!r}")
    if c.evaluation == "computed" and not c.metric:
        problems.append("a computed criterion needs a metric")
    if (c.threshold is None) != (c.operator is None):
        problems.append("threshold and operator go together")
    if c.operator is not None and c.operator not in OPERATORS:
        problems.append(f"operator {c.operator!r}")
    if problems:
        raise RegisterError(f"{where}: tiêu chí / criterion {c.code}: {'; '.join(problems)}")


def read_register(path: Path) -> Register:
    """Read and check one register file (every problem names the file and the criterion)."""
    raw = path.read_bytes()
    try:
        doc = yaml.safe_load(raw)
        fields = set(Criterion.__dataclass_fields__)
        criteria = tuple(Criterion(**{k: v for k, v in row.items() if k in fields}) for row in doc["criteria"])
        reg = Register(str(doc["version"]), date.fromisoformat(str(doc["valid_from"])), doc["title_vi"],
                       doc["title_en"], hashlib.sha256(raw).hexdigest(), criteria)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise RegisterError(f"{path.name}: tệp danh mục tiêu chí không đọc được / unreadable register: {exc}") from exc
    if not VERSION_RE.fullmatch(reg.version):
        raise RegisterError(f"{path.name}: phiên bản phải dạng số, vd 2025.2 / the version must be numeric, "
                            f"e.g. 2025.2 (got {reg.version!r})")
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise RegisterError(f"{path.name}: mã tiêu chí trùng / duplicate criterion codes")
    for c in criteria:
        _check(c, path.name)
    return reg


def register_files(folder: Path = DATA_DIR) -> list[Path]:
    return sorted(folder.glob(FILE_GLOB))


def sync_registers(conn: Connection, folder: Path = DATA_DIR) -> list[str]:
    """Store every register file not yet stored; a stored version whose file changed is refused (immutable)."""
    added = []
    for path in register_files(folder):
        reg = read_register(path)
        stored = conn.execute(text("SELECT sha256 FROM criteria_registers WHERE version = :v"),
                              {"v": reg.version}).scalar()
        if stored == reg.sha256:
            continue
        if stored is not None:
            raise RegisterError(f"{path.name}: phiên bản {reg.version} đã lưu với nội dung khác; hãy tạo phiên bản mới / "
                                f"version {reg.version} is stored with other content; make a new version")
        conn.execute(text("INSERT INTO criteria_registers (version, valid_from, title_vi, title_en, source_file, "
                          "sha256) VALUES (:v, :f, :tv, :te, :s, :h)"),
                     {"v": reg.version, "f": reg.valid_from, "tv": reg.title_vi, "te": reg.title_en, "s": path.name,
                      "h": reg.sha256})
        for i, c in enumerate(reg.criteria):
            conn.execute(text(
                "INSERT INTO criteria (register_version, position, code, category, level, evaluation, legal_basis, "
                "confidence, title_vi, title_en, metric, operator, threshold, unit, threshold_basis) VALUES "
                "(:v, :i, :code, :category, :level, :evaluation, :legal_basis, :confidence, :title_vi, :title_en, "
                ":metric, :operator, :threshold, :unit, :threshold_basis)"), {"v": reg.version, "i": i, **asdict(c)})
        added.append(reg.version)
    return added


def register_in_force(conn: Connection, on: date, version: str | None = None) -> Register:
    """The stored register in force on ``on`` (latest valid_from ≤ on, then highest version), or ``version``."""
    head = conn.execute(text(
        "SELECT version, valid_from, title_vi, title_en, sha256 FROM criteria_registers WHERE "
        + ("version = :ver" if version else "valid_from <= :on")
        # Two versions valid from the same day: the higher version number amends the lower one.
        + " ORDER BY valid_from DESC, string_to_array(version, '.')::int[] DESC LIMIT 1"),
        {"ver": version, "on": on}).first()
    if head is None:
        raise RegisterError(f"không có danh mục tiêu chí hiệu lực ngày {on} / no criteria register in force on {on}"
                            + (f" (version {version})" if version else ""))
    fields = [f for f in Criterion.__dataclass_fields__]
    rows = conn.execute(text(f"SELECT {', '.join(fields)} FROM criteria WHERE register_version = :v ORDER BY position"),
                        {"v": head.version}).mappings().all()
    return Register(head.version, head.valid_from, head.title_vi, head.title_en, head.sha256,
                    tuple(Criterion(**dict(r)) for r in rows))


def criterion_json(c: Criterion) -> str:
    return json.dumps(asdict(c), ensure_ascii=False, sort_keys=True)
