"""benchmarks/device_check.py's CPU fallback and benchmarks/scaling.py's growth fit (the GPU run is by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))


def _run(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


def test_device_check_runs_on_the_cpu_and_agrees_with_float32(tmp_path):
    out = tmp_path / "check.json"
    proc = _run([str(REPO / "benchmarks" / "device_check.py"), "--quick", "--device", "cpu", "--out", str(out)],
                tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r == json.loads(proc.stdout.splitlines()[-1][len("RESULT "):])
    assert r["device_type"] == "cpu" and r["dtype"] == "bfloat16" and r["ok"]
    a = r["agreement_vs_fp32_cpu"]
    assert 0 < a["mean_abs_token_diff"] <= r["tolerance"]["mean_abs_token_diff"]  # bf16 differs, a little
    assert a["spearman"] >= r["tolerance"]["spearman"]
    assert r["pool"]["responses"] == 24 and r["scorer_tok_s"] > 0 and r["train_tok_s"] > 0
    assert r["sample_tok_s"] > 0 and r["peak_memory_mb"] > 0


def test_scaling_fits_the_growth_exponent_and_runs_a_selection_point(tmp_path):
    import scaling
    assert scaling.fit([1, 4, 16], [2.0, 8.0, 32.0]) == pytest.approx(1.0)
    assert scaling.fit([1, 4, 16], [3.0, 3.0, 3.0]) == pytest.approx(0.0, abs=1e-12)
    assert scaling.fit([1, 4], [1.0, 0.0]) is None
    pool = scaling.scoring_pool(2, 3, repeat=4, steps=2)
    text = pool.problems[0].responses[0].text
    assert text.count("\n\n") == 1  # cut into 2 steps
    one = scaling.scoring_pool(2, 3, repeat=1, steps=2).problems[0].responses[0].text
    assert len(text.split("\n")) == 4 * len([ln for ln in one.split("\n") if ln]) + 1
    proc = _run([str(REPO / "benchmarks" / "scaling.py"), "--only", "selection", "--quick"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.splitlines()[-1][len("RESULT "):])
    assert [p["responses"] for p in r["points"]["selection"]] == [500 * 64, 500 * 256]
    assert r["fits"]["selection"]["time_exponent_last"] is not None
