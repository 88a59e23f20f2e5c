"""Text coercion: the byte-level shortcut for Arrow-backed text decides exactly as Python's str.strip() would."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest.coerce import _already_clean, _as_text

# Every character Python's isspace() accepts, and look-alikes it does not (zero-width space, joiners, BOM).
SPACES = [c for c in map(chr, range(0x3100)) if c.isspace()]
NOT_SPACES = ["\u200b", "\u200d", "\ufeff", "\u00ad", "a", "Đ", "ư", "ệ", "中", "😀"]


def _exact(values: list[str | None]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(v != "" and v.strip() == v for v in present)


def test_every_python_space_character_at_either_end_is_seen():
    assert len(SPACES) == 29  # ASCII 10 + U+0085, U+00A0, U+1680, U+2000–200A, U+2028/9, U+202F, U+205F, U+3000
    for sp in SPACES:
        for vals in (["Khu A", f"{sp}Khu B"], ["Khu A", f"Khu B{sp}"], [f"{sp}"], ["x", None, f"ệ{sp}"]):
            assert _already_clean(pd.Series(vals, dtype="str")) is False, (hex(ord(sp)), vals)


@pytest.mark.parametrize("seed", range(5))
def test_random_columns_agree_with_strip(seed):
    rng = np.random.default_rng(seed)
    alphabet = SPACES + NOT_SPACES * 3
    for _ in range(300):
        n = int(rng.integers(1, 6))
        vals: list[str | None] = []
        for _ in range(n):
            if rng.random() < 0.15:
                vals.append(None)
            else:
                k = int(rng.integers(0, 4))
                vals.append("".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), k)))
        clean = [None if v is None else (v.strip() or "x") for v in vals]
        for case in (vals, clean):
            assert _already_clean(pd.Series(case, dtype="str")) == _exact(case), case


def test_as_text_of_arrow_text_strips_and_blanks():
    raw = pd.Series(["  Đông ", "\u3000", None, "Bình Dương"], dtype="str")
    got = _as_text(raw)
    assert got.iloc[0] == "Đông" and got.iloc[3] == "Bình Dương"
    assert got.isna().tolist() == [False, True, True, False]
