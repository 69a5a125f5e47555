"""The message catalogs: gettext `.po` files (Babel's tooling makes and updates them:
README "Translations"), read as they are when the notifier starts.

Why `.po` at run time rather than compiled `.mo`: the wheel and the Docker image need no
build step (hatchling copies the package's files as they are), a checkout runs what it
holds, and there is one file per language to review. Reading the four catalogs takes
~30 ms, once per process (timed around `catalogs.load()` on the dev machine; a message
then renders in ~0.3 ms).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from server.base import locales

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


@lru_cache(maxsize=1)
def load() -> dict[str, NullTranslations]:
    """Every supported language's translations; English is the templates' own text.
    Fuzzy and empty entries are left out (the English text stands in for them; the tests
    refuse a catalog with any)."""
    translations: dict[str, NullTranslations] = {locales.DEFAULT: NullTranslations()}
    for language in locales.SUPPORTED:
        if language == locales.DEFAULT:
            continue
        buffer = io.BytesIO()
        write_mo(buffer, read_catalog(language))
        buffer.seek(0)
        translations[language] = Translations(buffer, domain=DOMAIN)
    return translations
