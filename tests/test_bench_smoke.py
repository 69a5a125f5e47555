"""`tracker bench --quick` runs to the end and its counts reconcile (no speed is asserted):
the courier-socket ramp and the phone-app HTTP scenario."""

from __future__ import annotations

import json

from server.base.stage_times import STAGES
from tests.bench_cli import run_bench
from tests.conftest import TEST_DATABASE_URL


def test_quick_bench_completes_and_reconciles() -> None:
    bench_url = TEST_DATABASE_URL + "_bench"  # its own scratch database: the bench empties it
    result = run_bench("--quick", "--database-url", bench_url)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    [run] = report["runs"]
    assert run["steps"], "no load step ran"
    for step in run["steps"]:
        assert 0 < step["acked"] <= step["sent"]
        assert step["errors"] == 0
        # Every stage of the courier pipeline was timed (a stage left unhooked reads 0).
        stage_us = step["stage_us"]
        assert all(stage_us[stage] > 0 for stage in STAGES), stage_us
        assert stage_us["cpu"] > 0 and stage_us["write"] > 0
        # The machine's other shares: the load processes, and the database storing fixes.
        assert step["load_cpu_pct"] > 0 and step["database_cpu_pct"] > 0
    assert run["acked_fixes_checked"] == sum(s["acked"] for s in run["steps"])
    assert run["missing_acked_fixes"] == report["missing_acked_fixes"] == 0
    assert report["ceilings"]["copy_rows_per_s"] > 0
    assert report["ceilings"]["bare_websocket_msgs_per_s"] > 0
    assert run["idle_bytes_per_socket"] > 0
    assert "couriers" in result.stderr  # the table
    assert "µs per fix: cpu" in result.stderr and "machine: server" in result.stderr
    phones = report["phones"]
    assert phones["phones"] == 10 and len(phones["steps"]) == 2
    for step in phones["steps"]:
        assert step["due"] > 0 and step["sent"] == step["due"]  # open loop: all went out
        assert step["errors"] == step["rejected"] == 0 and step["error_kinds"] == {}
        assert step["stored"] == step["ok"] == step["sent"]  # each found in the database
        assert step["latency_ms"]["p50"] is not None and step["server_cpu_pct"] > 0
        stage_us = step["stage_us"]  # the HTTP path times its decoding too; no ack stage
        assert all(stage_us[s] > 0 for s in ("decode", "validate", "track", "publish"))
    assert phones["answered_fixes_checked"] == sum(s["ok"] for s in phones["steps"])
    assert phones["missing_answered_fixes"] == 0
    assert "phone apps over HTTP" in result.stderr


def test_floor_bench_relays_every_fix() -> None:
    """`tracker bench --floor`, tiny: the relay acked every fix its couriers sent and wrote
    positions their customers read (no speed is asserted)."""
    result = run_bench("--floor", "--steps", "30,60", "--step-seconds", "4")
    assert result.returncode == 0, result.stderr[-3000:]
    steps = json.loads(result.stdout)["steps"]
    assert [s["couriers"] for s in steps] == [30, 60]
    for step in steps:
        assert step["sent"] > 0 and step["acked"] == step["sent"]
        assert step["errors"] == step["rejected"] == step["watchers_closed"] == 0
        assert step["ack_latency_ms"]["p50"] > 0
        assert step["customer_latency_ms"]["p50"] is not None  # positions reached customers
        assert step["deliveries_per_s"] > 0
        assert step["stage_us"]["cpu"] > 0 and step["server_cpu_pct"] > 0
        assert step["load_cpu_pct"] > 0 and step["database_cpu_pct"] is not None
    assert "the floor: a relay" in result.stderr and "µs per fix: cpu" in result.stderr
    assert "machine: server" in result.stderr


def test_bottleneck_bench_completes_and_reconciles() -> None:
    """`tracker bench --bottlenecks`, tiny: the history it wrote is all rolled up, and every
    measured answer came back (no speed is asserted)."""
    bench_url = TEST_DATABASE_URL + "_bench"
    result = run_bench(
        "--bottlenecks", "--drivers", "3", "--days", "2", "--fix-interval", "10", "--repeat", "2",
        "--database-url", bench_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    seed, rollup = report["seed"], report["rollup"]
    assert seed["positions"] == 3 * 2 * 8 * 3600 // 10 and seed["orders"] > 0
    assert rollup["slices"] == 2 * 24 + 1 and rollup["cell_hours"] > 0 and rollup["dwells"] > 0
    # ranges x (layer, heat map) x kinds, then slow again against the learned profile
    assert len(report["answers"]) == 3 * 2 * 3 + 3 * 2
    assert report["profile"]["trips"] > 0 and report["profile"]["keys"] > 0
    assert "heatmap slow 2d profile" in report["answers"]
    for name, answer in report["answers"].items():
        assert answer["p50_ms"] > 0, name
    assert report["answers"]["bottlenecks late 2d"]["features"] > 0
    assert report["answers"]["bottlenecks dwell 2d"]["features"] > 0


def test_recording_ab_bench_delivers_and_compares_both_modes() -> None:
    """`tracker bench --recording-ab`, tiny: both modes ran each round on their own
    databases, deliveries were made (a GPS arrival each) and every fix is accounted for
    (no speed or cost is asserted)."""
    bench_url = TEST_DATABASE_URL + "_ab"
    result = run_bench(
        "--recording-ab", "--rounds", "1", "--steps", "20", "--phones", "4", "--phone-rates", "20",
        "--step-seconds", "6", "--deliveries-per-s", "1", "--database-url", bench_url,
        timeout_s=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    runs = {(r["mode"], r["scenario"]): r for r in report["runs"]}
    assert set(runs) == {(m, s) for m in ("on", "off") for s in ("sockets", "phones")}
    for run in runs.values():
        done = run["deliveries"]
        assert done["delivered"] > 0 and done["errors"] == {}, done
        assert done["arrived"] == done["delivered"]  # the tracker saw each courier arrive
        assert run["errors"] == 0 and run["stored_per_s"] > 0 and run["cpu_us_per_fix"] > 0
    assert runs[("on", "sockets")]["rollup_db_us_per_fix"] > 0
    assert set(report["summary"]) == {"sockets", "phones"}
    assert "cpu_us_per_fix" in result.stderr  # the summary table
