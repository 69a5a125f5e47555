"""The pages' message catalogs (web/static/i18n/<lang>.js) are complete: every language has
every English key, nothing empty, the same {placeholders}; every key the pages ask for
(`t("key")` in JS, `data-i18n`/`data-i18n-attr` in HTML) exists. No browser needed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
LANGUAGES = ["en", "pt", "es", "fr", "de"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
JS_KEY = re.compile(r"""\bt\(\s*["']([\w.\-]+)["']""")
HTML_KEY = re.compile(r"""data-i18n="([\w.\-]+)\"""")
HTML_ATTR_KEYS = re.compile(r"""data-i18n-attr="([^"]+)\"""")


def catalog(language: str) -> dict[str, Any]:
    source = (WEB / "static" / "i18n" / f"{language}.js").read_text(encoding="utf-8")
    body = source.split("\nexport default", 1)[1].strip().removesuffix(";")
    loaded = json.loads(body)
    assert isinstance(loaded, dict)
    return loaded


def forms(text: str | dict[str, str]) -> list[str]:
    return list(text.values()) if isinstance(text, dict) else [text]


def placeholders(text: str | dict[str, str]) -> set[str]:
    return {name for form in forms(text) for name in PLACEHOLDER.findall(form)}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for script in (WEB / "static" / "js").rglob("*.js"):
        source = script.read_text(encoding="utf-8")
        if "i18n.js" in source:  # its t() is the catalog's (staff pages may have their own)
            keys |= set(JS_KEY.findall(source))
    for page in (WEB / "pages").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        keys |= set(HTML_KEY.findall(text))
        for pairs in HTML_ATTR_KEYS.findall(text):
            keys |= {pair.split(":", 1)[1].strip() for pair in pairs.split(";") if ":" in pair}
    return keys


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_language_has_every_english_key(language: str) -> None:
    english, other = catalog("en"), catalog(language)
    assert sorted(set(english) - set(other)) == [], f"{language} lacks these keys"
    assert sorted(set(other) - set(english)) == [], f"{language} has keys English lacks"
    for key, text in other.items():
        assert all(form.strip() for form in forms(text)), f"{language}: {key} is empty"
        assert placeholders(text) == placeholders(english[key]), f"{language}: {key} placeholders"
        if isinstance(english[key], dict):
            assert isinstance(text, dict) and "other" in text, f"{language}: {key} needs plurals"


def test_every_key_the_pages_use_is_in_the_catalog() -> None:
    english = catalog("en")
    used = used_keys()
    assert used, "no t(...) calls found: the scan is broken"
    assert sorted(used - set(english)) == []


def test_every_status_has_a_label() -> None:
    source = (WEB / "static" / "js" / "format.js").read_text(encoding="utf-8")
    statuses = re.search(r"STATUSES = \[(.*?)\]", source, re.S)
    assert statuses is not None
    names = re.findall(r'"(\w+)"', statuses.group(1))
    assert len(names) == 10
    assert sorted(f"status.{name}" for name in names if f"status.{name}" not in catalog("en")) == []
