"""The insights API's answers (docs/api.md, "Insights"), typed for the OpenAPI document:
the use-case builds plain figures (server/usecases/insights/figures.py), the handler
shapes them here. Rates are 0..1, times seconds; `None` where nothing was counted."""

from __future__ import annotations

from typing import Any

import msgspec

HORIZONS = ("dispatch", "60", "30", "15", "5")  # server/domain/performance.py's


class EtaAtHorizon(msgspec.Struct):
    """The ETA shown at one horizon before the GPS arrival, against that arrival."""

    n: int
    mae_s: float | None
    p90_abs_error_s: float | None
    window_coverage: float | None  # arrivals inside the window shown then


class Figures(msgspec.Struct):
    """One period's figures, with the days and instants it covers."""

    from_: str = msgspec.field(name="from")
    to: str = ""
    from_at: str = ""
    to_at: str = ""
    deliveries: int = 0
    attempts: int = 0
    failed: int = 0
    on_time_rate_promise: float | None = None
    on_time_rate_window: float | None = None
    first_attempt_success_rate: float | None = None
    failure_reasons: dict[str, int] = {}
    lateness_median_s: float | None = None
    lateness_p90_s: float | None = None
    time_at_door_median_s: float | None = None
    time_at_door_mean_s: float | None = None
    stops_per_driver_hour: float | None = None
    distance_km: float = 0.0
    eta: dict[str, EtaAtHorizon] = {}


class Summary(msgspec.Struct):
    time_zone: str
    driver_id: int | None
    zone: str | None
    current: Figures
    previous: Figures


class TableRow(msgspec.Struct):
    """A table's row: its key (`bucket`; `driver_id` and `name`; or `zone`) and the figures
    of the summary flattened, the ETA's per horizon as `eta_<horizon>_<figure>` (failure
    reasons only in the summary)."""

    bucket: str | msgspec.UnsetType = msgspec.UNSET  # series: the local start
    driver_id: int | msgspec.UnsetType | None = msgspec.UNSET  # None: no driver
    name: str | msgspec.UnsetType | None = msgspec.UNSET
    zone: str | msgspec.UnsetType = msgspec.UNSET
    deliveries: int = 0
    attempts: int = 0
    failed: int = 0
    on_time_rate_promise: float | None = None
    on_time_rate_window: float | None = None
    first_attempt_success_rate: float | None = None
    lateness_median_s: float | None = None
    lateness_p90_s: float | None = None
    time_at_door_median_s: float | None = None
    time_at_door_mean_s: float | None = None
    stops_per_driver_hour: float | None = None
    distance_km: float = 0.0
    eta_dispatch_n: int = 0
    eta_dispatch_mae_s: float | None = None
    eta_dispatch_p90_abs_error_s: float | None = None
    eta_dispatch_window_coverage: float | None = None
    eta_60_n: int = 0
    eta_60_mae_s: float | None = None
    eta_60_p90_abs_error_s: float | None = None
    eta_60_window_coverage: float | None = None
    eta_30_n: int = 0
    eta_30_mae_s: float | None = None
    eta_30_p90_abs_error_s: float | None = None
    eta_30_window_coverage: float | None = None
    eta_15_n: int = 0
    eta_15_mae_s: float | None = None
    eta_15_p90_abs_error_s: float | None = None
    eta_15_window_coverage: float | None = None
    eta_5_n: int = 0
    eta_5_mae_s: float | None = None
    eta_5_p90_abs_error_s: float | None = None
    eta_5_window_coverage: float | None = None


class Table(msgspec.Struct):
    time_zone: str
    from_: str = msgspec.field(name="from")
    to: str = ""
    from_at: str = ""
    to_at: str = ""
    bucket: str | msgspec.UnsetType = msgspec.UNSET  # series only: hour, day or week
    rows: list[TableRow] = []


def summary(answer: dict[str, Any]) -> Summary:
    return msgspec.convert(answer, Summary)


def table(answer: dict[str, Any]) -> Table:
    return msgspec.convert(answer, Table)
