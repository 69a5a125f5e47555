"""The tracker's thresholds: named, with units, and the documented defaults (docs/eta.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrackerParams:
    # Off route: beyond off_route_m (+ the fix's accuracy, up to max_accuracy_credit_m) for
    # off_route_s and off_route_fixes fixes in a row; back after back_on_fixes within it.
    off_route_m: float = 60.0
    max_accuracy_credit_m: float = 50.0
    unknown_accuracy_m: float = 20.0  # assumed for fixes without an accuracy (phone GPS)
    # A fix that fits the route up to this far behind the progress is not off route.
    recover_back_m: float = 250.0
    off_route_s: float = 30.0
    off_route_fixes: int = 3
    back_on_fixes: int = 2

    # Progress search window around the last progress: a little behind (noise), and ahead as
    # far as a fast vehicle could have gone since the last located fix.
    window_back_m: float = 50.0
    window_ahead_m: float = 250.0
    max_speed_mps: float = 40.0
    # A place further ahead than jump_ahead_m plus jump_speed_mps since the last located fix
    # is a jump: while the fix also fits near the progress (a later part of the route passing
    # close by), the courier stays near, unless the far part fits better for jump_s and
    # jump_fixes fixes in a row while the courier moves jump_moved_m along it.
    jump_ahead_m: float = 100.0
    jump_speed_mps: float = 25.0
    jump_s: float = 20.0
    jump_fixes: int = 3
    jump_moved_m: float = 50.0

    # Stopped: slower than stop_speed_mps, measured over at least speed_span_s.
    stop_speed_mps: float = 1.5
    speed_span_s: float = 5.0
    # A stop shorter than this is taken for traffic (lights, junctions) and does not move the
    # ETA; beyond it the ETA grows with the stop.
    light_grace_s: float = 90.0

    # Arriving: ETA under arriving_s or closer than arriving_m along the route...
    arriving_s: float = 120.0
    arriving_m: float = 300.0
    # ...but only within arriving_near_m of the stop, both in a straight line and along the
    # route (two minutes at 45 km/h), and the ETA alone counts only while moving.
    arriving_near_m: float = 1500.0
    # Arrived: within arrived_radius_m of the stop, slower than arrived_speed_mps, for
    # arrived_dwell_s. A pass at speed is not an arrival.
    arrived_radius_m: float = 50.0
    arrived_speed_mps: float = 3.0
    arrived_dwell_s: float = 20.0
    # ...and, on route, no further than the radius plus this short of the stop along it
    # (on a loop the stop may be near the start too).
    arrived_along_slack_m: float = 150.0
    # A stop this far behind the progress, never arrived at, has been passed.
    passed_margin_m: float = 250.0

    # The courier's recent pace relative to the expected one: over this much recent time,
    # pulled towards 1 by courier_prior_s of expected time, and limited to this range.
    courier_window_s: float = 600.0
    courier_prior_s: float = 120.0
    courier_ratio_min: float = 0.6
    courier_ratio_max: float = 2.0
    # How much of that ratio applies to the time ahead: courier_weight for the next moments,
    # fading to half at courier_horizon_s ahead. On the development traces (cars in Hof,
    # buses in Liverpool) a courier's recent pace barely predicted its next minutes, so it
    # is a light touch (docs/eta.md).
    courier_weight: float = 0.5
    courier_horizon_s: float = 120.0

    # Publishing: a stop's ETA changes only when it moved by more than eta_change_s, or by
    # more than eta_change_fraction of the remaining time (never less than eta_change_min_s).
    eta_change_s: float = 60.0
    eta_change_fraction: float = 0.10
    eta_change_min_s: float = 10.0

    # Off route or provisional: straight line to the stop times this factor.
    detour_factor: float = 1.3
