"""Track and order exports, encoded a batch at a time (never the whole export in memory):
each format is a head, then any number of batches, then a tail. docs/api.md describes the
shapes; here they are produced.

- GeoJSON: a FeatureCollection of Point features, oldest first, each with the fix's
  `recorded_at` and readings as properties (the same names as the CSV columns): a point
  layer GIS tools read as is (QGIS: "Points to path" makes the line, the Temporal
  Controller animates it); a streamed LineString could not carry its times without a second
  pass over the rows.
- GPX 1.1: one `trk` with one `trkseg`; each `trkpt` has `ele` (altitude) and `time`, and
  speed and course in Garmin's TrackPointExtension v2 (GPX 1.1 core has no speed). Accuracy
  and battery have no GPX element: use GeoJSON or CSV for them.
- CSV: a header row, then one row per fix (or order); text cells that a spreadsheet would
  run as a formula are escaped (see `_cell`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from xml.sax.saxutils import escape

import msgspec

_encode = msgspec.json.Encoder().encode

TRACK_COLUMNS = (
    "recorded_at",
    "lat",
    "lon",
    "accuracy_m",
    "speed_mps",
    "heading_deg",
    "altitude_m",
    "battery",
)
FORMATS = ("geojson", "gpx", "csv")
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpx": "application/gpx+xml",
    "csv": "text/csv; charset=utf-8",
}


def iso(at: datetime) -> str:
    """UTC, second fractions as stored, `Z` for the zone (GPX's xsd:dateTime takes it)."""
    return at.isoformat().replace("+00:00", "Z")


class TrackEncoder:
    """One export's bytes: `head()`, then `lines(batch)` per batch of the track's lines
    (formatted by the database: server/store/history.py), then `tail()`."""

    def __init__(self, fmt: str, name: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.format = fmt
        self.media_type = MEDIA_TYPES[fmt]
        self._name = name
        self._first = True

    def head(self) -> bytes:
        if self.format == "geojson":
            return b'{"type":"FeatureCollection","name":' + _encode(self._name) + b',"features":['
        if self.format == "gpx":
            return _GPX_HEAD.format(name=escape(self._name)).encode()
        return _csv_line(TRACK_COLUMNS)

    def lines(self, lines: Sequence[str]) -> bytes:
        """A batch of the track's lines, as server/store/history.py formats them."""
        if not lines:
            return b""
        if self.format == "geojson":
            separator = "" if self._first else ","
            self._first = False
            return (separator + ",".join(lines)).encode()
        return "".join(lines).encode()

    def tail(self) -> bytes:
        if self.format == "geojson":
            return b"]}\n"
        if self.format == "gpx":
            return b"</trkseg></trk></gpx>\n"
        return b""


_GPX_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gpx version="1.1" creator="tracker" xmlns="http://www.topografix.com/GPX/1/1"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2"'
    ' xsi:schemaLocation="http://www.topografix.com/GPX/1/1'
    ' http://www.topografix.com/GPX/1/1/gpx.xsd">\n'
    "<trk><name>{name}</name><trkseg>\n"
)


# A cell starting with one of these runs as a formula in Excel, LibreOffice or Sheets
# (OWASP "CSV injection"); a leading apostrophe makes it text. A plain signed number (an
# E.164 phone number) computes nothing and is left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-][0-9]+(\.[0-9]+)?")


def _cell(value: object) -> object:
    """A CSV cell: None is empty; text that would run as a formula gets a leading `'`.

    >>> [_cell(v) for v in ("=HYPERLINK(1)", "@SUM(A1)", "-2+3", "+351912345678", -8.5, None)]
    ["'=HYPERLINK(1)", "'@SUM(A1)", "'-2+3", '+351912345678', -8.5, '']
    """
    if value is None:
        return ""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _csv_lines(rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode()


def _csv_line(row: Sequence[object]) -> bytes:
    return _csv_lines([row])


ORDER_COLUMNS = (
    "id",
    "reference",
    "tracking_code",
    "status",
    "customer_name",
    "customer_email",
    "customer_phone",
    "address",
    "lat",
    "lon",
    "promised_by",
    "window_start",
    "window_end",
    "driver_id",
    "stop_index",
    "late",
    "eta",
    "created_at",
    "updated_at",
    "closed_at",
)


def orders_csv_head() -> bytes:
    return _csv_line(ORDER_COLUMNS)


def orders_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows in ORDER_COLUMNS' order; instants become ISO 8601, booleans true/false."""
    return _csv_lines(
        [
            iso(v) if isinstance(v, datetime) else str(v).lower() if isinstance(v, bool) else v
            for v in row
        ]
        for row in rows
    )


def table_csv(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """A table of the insights API (docs/api.md, "Insights") as RFC 4180 CSV with a header
    line; cells that a spreadsheet would run as a formula are quoted as text."""
    return _csv_lines([columns, *([row.get(c) for c in columns] for row in rows)])
