"""The paper's table layout of recorded rows (harness/evaluation/pivot.py)."""

from __future__ import annotations

from harness.evaluation.pivot import pivot_ns, pivot_tables, view


def test_pivot_columns_are_the_papers_ns():
    assert pivot_ns({1, 2, 4, 8, 16, 32, 64}) == [4, 16, 64]
    assert pivot_ns({1, 2, 4, 8, 16}) == [4, 16]
    assert pivot_ns({1, 2, 4}) == [2, 4]
    assert pivot_ns({1, 2, 4, 8, 16, 32, 64, 100}) == [4, 16, 64, 100]
    assert pivot_ns({1}) == [1]


def _rows(run, rm, gen, acc, methods=("best_of_n", "weighted_vote"), ns=(1, 4, 16)):
    return [{"run": run, "rm": rm if m in ("best_of_n", "weighted_vote") else "-", "task": "arith",
             "generator": gen, "method": m, "aggregation": "min" if rm != "-" else "-", "n": n,
             "accuracy": acc + n / 1000, "ci_low": acc - 0.05, "ci_high": acc + 0.05, "problems": 500}
            for m in methods for n in ns]


def test_reward_models_are_rows_methods_at_each_n_columns_baselines_beneath():
    rows = (_rows("orm", "orm", "mid", 0.5) + _rows("implicit_ce", "implicit_ce", "mid", 0.6)
            + _rows("implicit_ce-r1", "implicit_ce", "mid", 0.7)
            + _rows("orm", "-", "mid", 0.4, methods=("majority_vote", "pass_at_n"))
            + _rows("implicit_ce", "implicit_ce", "weak", 0.1))
    mid, weak = pivot_tables(rows)  # in the order the rows name the generators
    assert (mid.generator, weak.generator) == ("mid", "weak")
    assert mid.ns == [4, 16] and mid.columns == [("best_of_n", 4), ("best_of_n", 16), ("weighted_vote", 4),
                                                  ("weighted_vote", 16)]
    assert [run for run, _ in mid.rows] == ["implicit_ce", "orm", "implicit_ce-r1"]  # variants after the plain runs
    cells = dict(mid.rows)
    assert cells["orm"][("weighted_vote", 16)].accuracy == 0.5 + 16 / 1000
    assert [run for run, c in mid.rows if c[("best_of_n", 4)].best] == ["implicit_ce-r1"]
    v = view(mid)
    assert [r["name"] for r in v["rows"]] == ["implicit_ce", "orm", "implicit_ce-r1", "majority vote", "pass@N"]
    majority, oracle = v["rows"][-2:]
    # majority vote sits under the weighted-vote columns, pass@N under best-of-N
    assert [c["text"] for c in majority["cells"]] == ["", "", "40.4", "41.6"]
    assert [c["text"] for c in oracle["cells"]] == ["40.4", "41.6", "", ""]
    assert [r["variant"] for r in v["rows"]] == \
        [False, False, True, False, False]
    assert weak.baselines == [] and [run for run, _ in weak.rows] == ["implicit_ce"]
