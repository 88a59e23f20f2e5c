"""Message catalogues: every user-facing string of the web app, Vietnamese (default) and English."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

LANGUAGES = ("vi", "en")
DEFAULT = "vi"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    return json.loads(files("dashboards").joinpath(f"locales/{lang}.json").read_text(encoding="utf-8"))


def lang_or_default(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


def t(key: str, lang: str | None, **values: object) -> str:
    """The text for ``key`` in ``lang`` (falls back to Vietnamese, then to the key itself)."""
    lang = lang_or_default(lang)
    text = catalogue(lang).get(key) or catalogue(DEFAULT).get(key) or key
    return text.format(**values) if values else text


def both(key: str, **values: object) -> dict[str, str]:
    """The text in every language (API error bodies carry both)."""
    return {lang: t(key, lang, **values) for lang in LANGUAGES}
