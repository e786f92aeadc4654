"""--protocol paper's selection (harness.selection.paper) against a transcription of the ImplicitPRM authors'
eval/bon_eval.py `compute_metrics` (with prm_eval_utils.py `split_query` and `best_of_n`), on a hand-made pool with
tied scores, tied answer classes and responses without an answer."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from harness.core.pool import Pool, Problem, Response
from harness.core.scores import ScoreSet
from harness.evaluation.leaderboard import Options, evaluate_pool

N = 8
NS = [1, 2, 3, 4, 8]
# (answer, correct, reward) per response; the reference answer is "R". Rewards are min step rewards at coefficient
# 0.001, so sigmoid weights sit near 0.5 and ties between classes are common.
PROBLEMS = [
    [("R", 1, 0.002), ("a", 0, 0.002), ("a", 0, 0.001), (None, 0, 0.004), ("R", 1, -0.003), (None, 0, 0.004),
     (None, 0, 0.0), ("b", 0, 0.004)],
    [("a", 0, 0.5), ("R", 1, 0.5), ("b", 0, -0.2), ("R", 1, 0.1), ("a", 0, 0.0), ("b", 0, 0.3), ("R", 1, 0.0),
     ("a", 0, 0.2)],
    [(None, 0, 0.1), (None, 0, -0.1), ("R", 1, 0.3), ("a", 0, 0.3), ("R", 1, -0.5), ("a", 0, 0.3), (None, 0, 0.0),
     ("c", 0, 0.9)],
    [("b", 0, -1.0), ("R", 1, -1.0), ("b", 0, 2.0), ("R", 1, -1.0), ("R", 1, 0.5), ("c", 0, 0.5), ("c", 0, 0.5),
     ("R", 1, 0.0)],
    [("R", 1, 0.0), ("R", 1, 0.0), ("a", 0, 0.0), ("a", 0, 0.0), ("b", 0, 0.0), ("b", 0, 0.0), ("b", 0, 0.0),
     ("R", 1, 0.0)],
]


# --- transcription of bon_eval.py (args.baseline = 0, args.type = "implicit_prm" or a baseline) -------------------

def split_query(completions, n, N=16):  # prm_eval_utils.split_query
    splitted_completions = []
    for idx in range(int(len(completions) / N)):
        samples = [sample for sample in completions if sample["idx"] == idx]
        samples = sorted(samples, key=lambda x: x["logprobs"], reverse=True)
        splitted_completions.append(samples[:n])
    return splitted_completions


def best_of_n(splitted_completions, key='reward'):  # prm_eval_utils.best_of_n
    selected_completions = []
    for n_completions_per_query in splitted_completions:
        n_completions_per_query = sorted(n_completions_per_query, key=lambda x: x[key], reverse=True)
        selected_completions.append(n_completions_per_query[0])
    return selected_completions


def compute_metrics(scored_results, kind, sample_nums, implicit=True):
    import torch
    metrics = {"w/o sc": {}, "w/ sc": {}, "sc": {}, "pass@k": {}}
    for use_sc in [False, True]:
        sc_key = "w/ sc" if use_sc else "w/o sc"
        for n in sample_nums:
            splitted_completions = split_query(scored_results, n, N)
            if not use_sc:
                selected_completions = best_of_n(splitted_completions, kind)
            else:
                selected_completions = []
                for comps in splitted_completions:
                    selected_completions += comps
            acc_list = [comp["correctness"] for comp in selected_completions]
            output_list = [comp["extracted_output"] for comp in selected_completions]
            if not use_sc:
                acc = sum(acc_list) / len(acc_list)
            else:
                correct, sumv = 0, 0
                for ii in range(len(splitted_completions)):
                    # set() in theirs: its order over strings changes with PYTHONHASHSEED; first appearance here.
                    answer_dict = {k: 0 for k in dict.fromkeys(output_list[ii * n:(ii + 1) * n])}
                    reward_list = [ele[kind] for ele in selected_completions[ii * n:(ii + 1) * n]]
                    for ele, reward in zip(output_list[ii * n:(ii + 1) * n], reward_list):
                        if implicit:
                            answer_dict[ele] += torch.sigmoid(torch.tensor(reward)).item()
                        else:
                            answer_dict[ele] += torch.tensor(reward).item()
                    answer_dict = dict(sorted(answer_dict.items(), key=lambda x: x[1], reverse=True))
                    select_answer = max(answer_dict, key=answer_dict.get)
                    is_correct = select_answer == splitted_completions[ii][0]['reference']
                    correct += is_correct
                    sumv += 1
                acc = correct / sumv
            metrics[sc_key][n] = acc
    for n in sample_nums:
        splitted_completions = split_query(scored_results, n, N)
        selected_completions = []
        for comps in splitted_completions:
            selected_completions += comps
        acc_list = [comp["correctness"] for comp in selected_completions]
        output_list = [comp["extracted_output"] for comp in selected_completions]
        total_index = int(len(acc_list) / n)
        pass_k = sum([1 for ii in range(total_index) if any(acc_list[ii * n:(ii + 1) * n])]) / total_index
        consistent_outputs = [Counter(output_list[ii * n:(ii + 1) * n]).most_common(1)[0][0]
                              for ii in range(total_index)]
        position_of_consistent_outputs = [output_list[ii * n:(ii + 1) * n].index(consistent_outputs[ii])
                                          for ii in range(total_index)]
        acc_of_consistency = [acc_list[ii * n:(ii + 1) * n][idx_of_split]
                              for ii, idx_of_split in enumerate(position_of_consistent_outputs)]
        metrics["sc"][n] = sum(acc_of_consistency) / total_index
        metrics["pass@k"][n] = pass_k
    return metrics


def their_records():
    out = []
    for idx, rows in enumerate(PROBLEMS):
        for a, c, r in rows:  # get_dataloader: a non-string output becomes str (None -> "None")
            out.append({"idx": idx, "logprobs": 0, "extracted_output": str(a), "reference": "R", "correctness": c,
                        "reward": r})
    return out


def our_rows(weights):
    pool = Pool([Problem(f"p{i}", f"q{i}", "R", [Response(f"Step 1: {a}", a, bool(c)) for a, c, _ in rows],
                         {"generator": "hand", "task": "hand"}) for i, rows in enumerate(PROBLEMS)])
    ss = ScoreSet("rm", pool.content_hash(), [[[r] for _, _, r in rows] for rows in PROBLEMS])
    res = evaluate_pool(pool, [ss], Options(protocol="paper", weights=weights, bootstrap=10), NS)
    assert all(row["protocol"] == "paper" for row in res.rows) and "paper protocol" in res.name
    return {(row["method"], row["n"]): row["accuracy"] for row in res.rows}


@pytest.mark.parametrize("weights,implicit", [("sigmoid", True), ("raw", False)])
def test_paper_protocol_equals_the_authors_bon_eval(weights, implicit):
    want = compute_metrics(their_records(), "reward", NS, implicit)
    got = our_rows(weights)
    for method, key in (("best_of_n", "w/o sc"), ("weighted_vote", "w/ sc"), ("majority_vote", "sc"),
                        ("pass_at_n", "pass@k")):
        for n in NS:
            assert got[(method, n)] == pytest.approx(want[key][n], abs=1e-9), (method, n, got[(method, n)],
                                                                               want[key][n])


def test_the_pool_has_the_cases_the_protocol_decides():
    """Ties and None classes change the numbers here: the harness's own estimator gives other ones."""
    pool = Pool([Problem(f"p{i}", f"q{i}", "R", [Response(f"Step 1: {a}", a, bool(c)) for a, c, _ in rows],
                         {"generator": "hand", "task": "hand"}) for i, rows in enumerate(PROBLEMS)])
    ss = ScoreSet("rm", pool.content_hash(), [[[r] for _, _, r in rows] for rows in PROBLEMS])
    ours = {(r["method"], r["n"]): r["accuracy"] for r in evaluate_pool(
        pool, [ss], Options(subsets="prefix", bootstrap=10), NS).rows}
    paper = our_rows("sigmoid")
    differ = {m for (m, n), v in paper.items() if not np.isclose(v, ours[(m, n)])}
    assert {"best_of_n", "weighted_vote", "majority_vote"} <= differ
