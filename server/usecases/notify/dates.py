"""Times in customers' messages, written the way their locale writes them (Babel, CLDR):
the time alone when it is today in their zone, else with the date; the zone named when
the customer's own is not known.

>>> at = datetime(2026, 12, 2, 16, 5, tzinfo=UTC)
>>> lisbon = ZoneInfo("Europe/Lisbon")
>>> written(at, lisbon, date(2026, 12, 2), False, babel_locale("pt-PT"))
'16:05'
>>> written(at, lisbon, date(2026, 12, 1), False, babel_locale("pt-PT"))
'quarta, 2/12, 16:05'
>>> written(at, ZoneInfo("UTC"), date(2026, 12, 1), True, babel_locale("en-GB"))
'Wed 2 Dec, 16:05 UTC'
>>> written(at, lisbon, date(2026, 12, 2), False, babel_locale("ja"))  # no Japanese messages
'4:05 PM'
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, dates

from server.base import locales


@lru_cache(maxsize=256)
def babel_locale(tag: str | None) -> Locale:
    """The locale dates are written in: the tag itself (pt-PT writes dates unlike pt-BR)
    when its language is one messages are written in, else that language alone."""
    language = locales.language(tag)
    if tag:
        try:
            parsed = Locale.parse(tag, sep="-")
        except (ValueError, UnknownLocaleError):
            parsed = None
        if parsed is not None and parsed.language == language:
            return parsed
    return Locale.parse(language)


def written(at: datetime, zone: ZoneInfo, today: date, name_zone: bool, locale: Locale) -> str:
    local = at.astimezone(zone)
    text = dates.format_time(local, "short", locale=locale)
    if local.date() != today:
        day = dates.format_skeleton("MMMEd", local, locale=locale)
        text = str(locale.datetime_formats["short"]).format(text, day)
    # CLDR's narrow no-break spaces ("4:05\u202fPM") would make an SMS UCS-2: half as long.
    text = text.replace("\u202f", " ").replace("\xa0", " ")
    return f"{text} {local.tzname()}" if name_zone else text


def today_in(zone: ZoneInfo, now: datetime | None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()
