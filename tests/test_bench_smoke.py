"""`tracker bench --quick` runs to the end and its counts reconcile (no speed is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from server.base.stage_times import STAGES
from tests.conftest import TEST_DATABASE_URL


def test_quick_bench_completes_and_reconciles() -> None:
    bench_url = TEST_DATABASE_URL + "_bench"  # its own scratch database: the bench empties it
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "bench", "--quick", "--database-url", bench_url],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )
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
    assert run["acked_fixes_checked"] == sum(s["acked"] for s in run["steps"])
    assert run["missing_acked_fixes"] == report["missing_acked_fixes"] == 0
    assert report["ceilings"]["copy_rows_per_s"] > 0
    assert report["ceilings"]["bare_websocket_msgs_per_s"] > 0
    assert run["idle_bytes_per_socket"] > 0
    assert "couriers" in result.stderr  # the table
    assert "µs per fix: cpu" in result.stderr
