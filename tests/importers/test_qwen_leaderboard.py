"""The issue's acceptance path on real data: import the Qwen2.5-Math rm_maj pool, rank its reward-model scores with
`leaderboard --format json`, and check rm@8 / maj@8 / pass@8 against numbers computed from the raw file alone."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from tests.importers.test_importers import QWEN, qwen_expected


def test_import_then_leaderboard_json_matches_raw_file(tmp_path, capsys):
    if not QWEN.exists():
        pytest.skip(f"real data not found at {QWEN} (../shared/data beside the checkout)")
    pool = tmp_path / "q.jsonl"
    cache = str(tmp_path / "cache")
    assert main(["--cache-dir", cache, "import", "--format", "qwen-rm-maj", str(QWEN), "-o", str(pool)]) == 0
    capsys.readouterr()
    assert main(["--cache-dir", cache, "leaderboard", "--pool", str(pool), "--format", "json", "--n", "1,2,4,8"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    got = {(r["rm"], r["method"], r["n"]): r for r in rows}
    for method in ("best_of_n", "weighted_vote"):
        assert all(("math_cot_100", method, n) in got for n in (1, 2, 4, 8))
    for method in ("majority_vote", "pass_at_n"):
        assert all(("-", method, n) in got for n in (1, 2, 4, 8))
    want = qwen_expected()
    # At n = N = 8 every estimator sees the whole pool, so these are exact.
    assert got[("math_cot_100", "best_of_n", 8)]["accuracy"] == pytest.approx(want["rm@8"], abs=1e-9)
    assert got[("-", "majority_vote", 8)]["accuracy"] == pytest.approx(want["maj@8_tie_avg"], abs=1e-9)
    assert got[("-", "pass_at_n", 8)]["accuracy"] == pytest.approx(want["pass@8"], abs=1e-9)
    for r in rows:
        assert set(r) == {"task", "generator", "rm", "method", "aggregation", "n", "accuracy", "ci_low", "ci_high",
                          "problems"}
        assert 0.0 <= r["ci_low"] <= r["accuracy"] <= r["ci_high"] <= 1.0
        assert r["problems"] == want["problems"]
