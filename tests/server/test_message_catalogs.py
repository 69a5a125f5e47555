"""Every message template in every language (issue 17): the catalogs hold exactly the
sentences the templates mark (extracted afresh, as `pybabel extract` does), each one
translated, not fuzzy, with the same placeholders; every template renders in every
language, in that language; and an order's locale picks the closest one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir

from server.base import locales
from server.base.settings import Settings
from server.domain.lifecycle import Status
from server.store.orders import Order
from server.usecases.notify import catalogs
from server.usecases.notify.events import CUSTOMER_EVENTS, order_context
from server.usecases.notify.templates import BUILT_IN, Templates
from server.wire.live import EtaView

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OTHERS = [lang for lang in locales.SUPPORTED if lang != locales.DEFAULT]
EVENTS = sorted(CUSTOMER_EVENTS | {"issue_reported"})
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def marked() -> set[str]:
    """The sentences the templates mark with {% trans %}, as pybabel extract finds them."""
    found = extract_from_dir(
        str(BUILT_IN.parent),
        method_map=[("templates/**.txt", "jinja2"), ("templates/**.html", "jinja2")],
        options_map={"templates/**": {"extensions": "jinja2.ext.i18n"}},
    )
    return {message if isinstance(message, str) else message[0] for *_, message, _, _ in found}


def test_the_babel_mapping_file_is_the_one_these_tests_use() -> None:
    mapping = (BUILT_IN.parent / "babel.cfg").read_text()
    assert "[jinja2: templates/**.txt]" in mapping and "[jinja2: templates/**.html]" in mapping


@pytest.mark.parametrize("language", OTHERS)
def test_the_catalog_translates_every_marked_sentence_and_nothing_else(language: str) -> None:
    sentences = marked()
    assert len(sentences) > 30
    catalog = catalogs.read_catalog(language)
    ids = {m.id for m in catalog if m.id}
    assert sentences - ids == set(), "not in the catalog: run pybabel update (README)"
    assert ids - sentences == set(), "obsolete entries in the catalog"
    for entry in catalog:
        if not entry.id:
            continue
        assert isinstance(entry.id, str) and isinstance(entry.string, str)
        assert entry.string.strip(), f"{language}: untranslated: {entry.id!r}"
        assert not entry.fuzzy, f"{language}: fuzzy: {entry.id!r}"
        assert sorted(PLACEHOLDER.findall(entry.string)) == sorted(PLACEHOLDER.findall(entry.id)), (
            f"{language}: placeholders differ in {entry.string!r}"
        )
        if len(entry.id) > 12:  # a sentence, not a word that two languages share
            assert entry.string != entry.id, f"{language}: left in English: {entry.id!r}"


def full_context(language: str, **changes: Any) -> dict[str, Any]:
    order = Order(
        id=7, reference="A-1", tracking_code="7KQ2M9XD3HVAPR4T", customer_name="Cleo",
        customer_email="cleo@example.com", customer_phone="+351912345678",
        destination=(-8.61, 41.15), address=None,
        promised_by=NOW + timedelta(hours=2), window_start=None, window_end=None,
        status=Status.OUT_FOR_DELIVERY, driver_id=1, stop_index=0, route=None,
        created_at=NOW, updated_at=NOW, closed_at=None, customer_time_zone="Europe/Lisbon",
        locale=language,
    )  # fmt: skip
    at = NOW + timedelta(hours=3)
    window = [(at - timedelta(minutes=10)).isoformat(), (at + timedelta(minutes=15)).isoformat()]
    eta = EtaView(at.isoformat(), 600, 5000, window, "high", None)
    context = order_context(order, Settings(), eta, "left with a neighbour", NOW)
    context.update(
        delivery_pin="4821",
        issue_reason="damaged",
        preferences_url="https://shop.test/track/7KQ2-M9XD-3HVA-PR4T/preferences",
    )
    context.update(changes)
    return context


VARIANTS = {  # the branches the templates take
    "all": {},
    "bare": {"eta": None, "window": None, "note": None, "delivery_pin": None,
             "promised_by": None},
    "no window": {"window": None},
}  # fmt: skip


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("language", locales.SUPPORTED)
def test_every_template_renders_in_every_language(event: str, language: str) -> None:
    templates = Templates()
    english = {k: templates.render(event, full_context("en", **v)) for k, v in VARIANTS.items()}
    for name, changes in VARIANTS.items():
        rendered = templates.render(event, full_context(language, **changes))
        assert rendered.subject and rendered.text and rendered.sms and rendered.html
        assert "None" not in rendered.text and "%(" not in rendered.text
        assert f'<html lang="{language}">' in rendered.html
        assert "https://shop.test/track/7KQ2-M9XD-3HVA-PR4T/preferences" in rendered.sms
        if language == locales.DEFAULT:
            continue
        en = english[name]
        assert rendered.subject != en.subject, (language, event, name)
        # Line by line: no sentence left in English (a URL alone may be the same).
        for line, en_line in zip(rendered.text.splitlines(), en.text.splitlines(), strict=True):
            if en_line.strip():
                assert line != en_line, (language, event, name, line)


def test_the_closest_supported_language_wins_else_english() -> None:
    assert locales.language("pt-BR") == "pt"
    assert locales.language("es-419") == "es"
    assert locales.language("DE-at") == "de"
    assert locales.language("nl-NL") == "en"
    assert locales.language("x-private") == "en"
    templates = Templates()
    brazil = templates.render("confirmed", full_context("pt-BR"))
    assert brazil.subject == "Encomenda A-1 confirmada"
    dutch = templates.render("confirmed", full_context("nl-NL"))
    assert dutch.subject == "Order A-1 confirmed"


@pytest.mark.parametrize(
    "tag", ["", "en_US", "p", "toolonglanguage", "pt-PT-", "pt--PT", "pt PT", "ü", "en-" + "a" * 40]
)
def test_malformed_locales_are_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="locale"):
        locales.canonical(tag)


def test_operator_overrides_keep_working_per_language(tmp_path: Any) -> None:
    (tmp_path / "confirmed.txt").write_text("Thanks {{ customer_name }}\nOrder {{ reference }}\n")
    (tmp_path / "pt").mkdir()
    (tmp_path / "pt" / "confirmed.txt").write_text("Obrigado {{ customer_name }}\nFeito\n")
    templates = Templates(str(tmp_path))
    assert templates.render("confirmed", full_context("fr")).subject == "Thanks Cleo"
    assert templates.render("confirmed", full_context("pt-PT")).subject == "Obrigado Cleo"
    # A template not overridden is still the built-in one, translated.
    shipped = templates.render("shipped", full_context("de"))
    assert shipped.subject == "Bestellung A-1 wurde versandt"
