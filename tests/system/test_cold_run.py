"""benchmarks/cold_run.py --quick: a cold run on an empty cache reports its stages, and they add up to its total.

Not a timed test: the 5-minute target of a full cold run is measured by hand (results/performance.md, "cold run")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))


def test_cold_run_quick_reports_stages_that_add_up(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cold_run.py"), "--quick", "--threads", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("RESULT ")
    r = json.loads(last[len("RESULT "):])
    assert r["quick"] is True and r["target_s"] == 300
    t = r["timings"]
    assert set(t) >= {"world_s", "train_s", "score_s", "select_s", "total_s"}
    assert all(t[k] >= 0 for k in t) and t["train_s"] > 0 and t["score_s"] > 0
    # every timed stage counts, the step-level report's validation scoring and figures too
    assert {"score_val_s", "process_s"} <= set(t)
    assert r["stage_sum_s"] == pytest.approx(sum(v for k, v in t.items() if k != "total_s"), abs=0.051)
    # stages are consecutive intervals of the run: their sum is its total, up to rounding and the moments between
    assert abs(r["stage_sum_s"] - t["total_s"]) <= 0.5 + 0.02 * t["total_s"]
    # the process also imports and starts up: its wall time covers the run's total; CPU time was measured
    assert r["wall_s"] >= t["total_s"] and r["cpu_s"] > 0
    assert r["ratio"] == round(r["wall_s"] / 300, 3) and r["ok"] == (r["wall_s"] <= 300)
    assert r["rows"] > 0 and "--scale smoke" in r["command"]


def test_compare_finds_equal_and_different_runs():
    from cold_run import max_difference
    ref = json.loads((REPO / "results" / "runs" / "arith-default-implicit_ce.json").read_text())
    same = max_difference(ref, ref)
    assert same["rows_matched"] and same["aucs_matched"]
    assert same["max_accuracy_diff"] == 0 and same["max_auc_diff"] == 0 and same["rows"] == len(ref["rows"])
    moved = json.loads(json.dumps(ref))
    moved["rows"][3]["accuracy"] += 0.25
    moved["auc"][1]["within_auc"] -= 0.125
    d = max_difference(moved, ref)
    assert d["max_accuracy_diff"] == pytest.approx(0.25) and d["max_auc_diff"] == pytest.approx(0.125)
