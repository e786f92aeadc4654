"""Importers on the real files under ../shared/data (qwen-rm-maj, ovm) and on faithful fixtures of formats with no
public sample here (implicitprm, lm-eval): labels kept, round trip through load_pool, score sets in the cache, and bad
input reported as file:line + field with nothing written.

`qwen_expected(path)` recomputes rm@8 / maj@8 / pass@8 straight from the raw Qwen file, for the leaderboard's
integration test to compare against.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _paths import DATA as DATA_ROOT

from harness.cli import main
from harness.core import cache
from harness.core.pool import load_pool, save_pool
from harness.core.scores import list_scores

DATA = DATA_ROOT
QWEN = DATA / "qwen25math_rm_maj" / "math_cot_100.jsonl"
OVM = DATA / "ovm_gsm8k_samples" / "test_responses_n300_mistral7b-ep2_samples.jsonl"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (the shared/data folder beside the checkout)")
    return path


@pytest.fixture
def cache_dir(tmp_path):
    d = tmp_path / "cache"
    cache.set_root(d)
    yield d
    cache.set_root(None)


def qwen_expected(path: str | Path = QWEN) -> dict[str, float]:
    """rm@8, maj@8 and pass@8 computed from the raw file alone (no harness code).

    rm@8: the response with the highest pred_score (first one on ties) is correct.
    maj@8: the most frequent `pred` (ties: the one seen first) is correct (its first response's `score`).
    maj@8_tie_avg: the same with ties broken uniformly at random, in expectation (3 problems of the file have a
    tie between a right and a wrong answer, so the two differ by 0.005).
    """
    rm = maj = maj_avg = anyc = 0
    n = 0
    with open(path, encoding="utf-8") as f:
        for raw in f:
            if not raw.strip():
                continue
            d = json.loads(raw)
            scores = [s[0] if isinstance(s, list) else s for s in d["pred_score"]]
            best = max(range(len(scores)), key=lambda j: (scores[j], -j))
            rm += bool(d["score"][best])
            counts: dict[str, int] = {}
            for p in d["pred"]:
                counts[p] = counts.get(p, 0) + 1
            top = max(counts.values())
            winner = next(p for p in d["pred"] if counts[p] == top)
            maj += bool(d["score"][d["pred"].index(winner)])
            tied = [p for p in counts if counts[p] == top]
            maj_avg += sum(bool(d["score"][d["pred"].index(p)]) for p in tied) / len(tied)
            anyc += any(d["score"])
            n += 1
    return {"rm@8": rm / n, "maj@8": maj / n, "maj@8_tie_avg": maj_avg / n, "pass@8": anyc / n, "problems": n}


def _import(fmt: str, files, out: Path, *extra: str) -> int:
    return main(["import", "--format", fmt, *map(str, files), "-o", str(out), *extra])


# --- qwen-rm-maj -----------------------------------------------------------------------------------------------

def test_qwen_import_keeps_labels_and_saves_reward_scores(tmp_path, cache_dir, capsys):
    src = _need(QWEN)
    out = tmp_path / "q.jsonl"
    assert _import("qwen-rm-maj", [src], out) == 0
    printed = capsys.readouterr().out
    assert "100 problems, 800 responses, graded 100.0%" in printed

    raw = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    pool = load_pool(out)
    assert len(pool) == 100 and all(len(p.responses) == 8 for p in pool)
    for p, d in zip(pool, raw):
        assert p.id == str(d["idx"]) and p.problem == d["question"] and p.reference == d["gt"]
        assert [r.text for r in p.responses] == d["code"]
        assert [r.answer for r in p.responses] == d["pred"]
        assert [r.correct for r in p.responses] == d["score"]
        assert p.meta["generator"] == "math_cot_100"
    # Round trip: what was written reads back and writes the same bytes.
    assert save_pool(load_pool(out), tmp_path / "again.jsonl").read_bytes() == out.read_bytes()

    sets = list_scores(pool.content_hash())
    assert [s.rm for s in sets] == ["math_cot_100"]
    ss = sets[0]
    assert ss.meta["kind"] == "reward" and ss.meta["source"] == "math_cot_100.jsonl"
    assert [len(s) for s in ss.step_scores] == [len(p.responses) for p in pool]
    assert all(len(steps) == 1 for prob in ss.step_scores for steps in prob)  # one step per response
    assert [[s[0] for s in prob] for prob in ss.step_scores] == [[v[0] for v in d["pred_score"]] for d in raw]
    assert str(cache_dir) in printed


def test_qwen_selection_from_import_matches_raw_file(tmp_path, cache_dir):
    """Best-of-8 by the imported reward scores and majority over imported answers give the raw file's numbers."""
    src = _need(QWEN)
    out = tmp_path / "q.jsonl"
    assert _import("qwen-rm-maj", [src], out) == 0
    pool = load_pool(out)
    ss = list_scores(pool.content_hash())[0]
    expected = qwen_expected(src)
    rm = maj = 0
    for p, scores in zip(pool, ss.aggregate("last")):
        rm += p.responses[int(scores.argmax())].correct  # argmax takes the first of equal maxima
        answers = [r.answer for r in p.responses]
        top = max(answers.count(a) for a in answers)
        maj += p.responses[next(j for j, a in enumerate(answers) if answers.count(a) == top)].correct
    assert rm / len(pool) == expected["rm@8"]
    assert maj / len(pool) == expected["maj@8"]
    # The reward model must beat nothing trivially wrong: both sit between the worst case and pass@8.
    assert 0 < expected["maj@8"] <= expected["pass@8"] and 0 < expected["rm@8"] <= expected["pass@8"]
    assert expected["problems"] == 100


def test_qwen_literal_strings_and_optional_unique_ids(tmp_path, cache_dir):
    """Lists written as Python-literal strings parse the same; --reference-data swaps idx for MATH unique_ids."""
    ref = tmp_path / "ref.jsonl"
    ref.write_text(json.dumps({"problem": "What is  2+2?", "answer": "4", "unique_id": "test/algebra/1.json"}) + "\n")
    rec = {"idx": 7, "question": "What is 2+2?", "gt": "4", "code": "['2+2=4. \\\\boxed{4}', 'It is 5']",
           "pred": "['4', '5']", "score": "[True, False]", "pred_score": "[[0.9], [0.1]]"}
    src = tmp_path / "lit.jsonl"
    src.write_text(json.dumps(rec) + "\n")
    out = tmp_path / "p.jsonl"
    assert _import("qwen-rm-maj", [src], out, "--reference-data", str(ref), "--generator", "qwen-7b") == 0
    (p,) = load_pool(out).problems
    assert p.id == "test/algebra/1.json" and p.meta["generator"] == "qwen-7b"
    assert [(r.text, r.answer, r.correct) for r in p.responses] == [("2+2=4. \\boxed{4}", "4", True),
                                                                     ("It is 5", "5", False)]
    assert list_scores(load_pool(out).content_hash())[0].step_scores == [[[0.9], [0.1]]]


# --- ovm --------------------------------------------------------------------------------------------------------

def test_ovm_import_real_file(tmp_path, cache_dir, capsys):
    src = _need(OVM)
    out = tmp_path / "o.jsonl"
    assert _import("ovm", [src], out) == 0
    assert "1 responses labelled '[invalid]'" in capsys.readouterr().out
    raw = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    pool = load_pool(out)
    assert [p.id for p in pool] == [f"test/{i}" for i in range(10)]
    assert all(len(p.responses) == 300 for p in pool) and pool.generator() == "mistral7b-ep2"
    for p, d in zip(pool, raw):
        assert p.reference == d["ground_truth"] and p.problem == d["question"].strip()
        for r, o in zip(p.responses, d["outputs"]):
            assert r.text == o["response"]
            if o["label"] == "[invalid]":
                assert (r.answer, r.correct, r.extra) == (None, False, {"source_label": "[invalid]"})
            else:
                assert (r.answer, r.correct) == (o["response_answer"], o["label"])
    assert save_pool(load_pool(out), tmp_path / "again.jsonl").read_bytes() == out.read_bytes()
    assert list_scores(pool.content_hash()) == []  # OVM files carry no reward scores


def test_ovm_ids_and_references_agree_with_gsm8k_task(tmp_path, cache_dir):
    src = _need(OVM)
    _need(DATA / "gsm8k" / "test.jsonl")
    from tasks import get_task

    out = tmp_path / "o.jsonl"
    assert _import("ovm", [src], out) == 0
    task = {t.id: t for t in get_task("gsm8k").problems("test")}
    for p in load_pool(out):
        assert task[p.id].reference == p.reference and task[p.id].problem == p.problem


# --- implicitprm (fixture in the authors' test-set layout) -----------------------------------------------------

MATH_REF = [
    {"problem": "What is $1+1$?", "solution": "$1+1=\\boxed{2}$.", "answer": "2", "subject": "Prealgebra",
     "level": 1, "unique_id": "test/prealgebra/1.json"},
    {"problem": "Simplify $\\frac{6}{4}$.", "solution": "$\\boxed{\\frac32}$", "answer": "\\frac{3}{2}",
     "subject": "Algebra", "level": 2, "unique_id": "test/algebra/2.json"},
    {"problem": "Compute $2^5$.", "solution": "$2^5=\\boxed{32}$", "answer": "32", "subject": "Algebra",
     "level": 1, "unique_id": "test/algebra/3.json"},
]


def implicitprm_records() -> list[dict]:
    return [
        {"question": "What is $1+1$?",
         "responses": [{"text": "## Step 1: Add.\n1+1=2.\n\nThe final answer is: $\\boxed{2}$",
                        "extracted_output": "2", "correctness": True},
                       {"text": "## Step 1: Guess.\n\nThe final answer is: $\\boxed{3}$",
                        "extracted_output": "3", "correctness": False}]},
        # The authors' copies sometimes differ in whitespace only: still a text match.
        {"problem": "Simplify  $\\frac{6}{4}$.\n",
         "responses": [{"response": "6/4 = 3/2", "extracted_output": "\\frac{3}{2}", "correctness": 1},
                       {"response": "1.5"}]},
        {"question": "Compute $2^5$.", "reference": "32",
         "responses": ["2^5 = 32", {"text": "2^5 = 10", "correctness": 0}]},
    ]


def _write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    return path


def _write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_implicitprm_joins_math500_by_text(tmp_path, cache_dir, capsys):
    ref = _write_jsonl(tmp_path / "MATH500.jsonl", MATH_REF)
    src = _write_json(tmp_path / "llama3.1-8b.json", implicitprm_records())
    out = tmp_path / "p.jsonl"
    assert _import("implicitprm", [src], out, "--reference-data", str(ref)) == 0
    assert "by text" in capsys.readouterr().out
    pool = load_pool(out)
    assert [p.id for p in pool] == [r["unique_id"] for r in MATH_REF]
    assert [p.reference for p in pool] == ["2", "\\frac{3}{2}", "32"]
    assert [[(r.answer, r.correct) for r in p.responses] for p in pool] == [
        [("2", True), ("3", False)], [("\\frac{3}{2}", True), (None, None)], [(None, None), (None, False)]]
    assert pool.problems[1].responses[1].text == "1.5"
    assert pool.problems[0].meta["subject"] == "Prealgebra" and pool.generator() == "llama3.1-8b"
    assert save_pool(load_pool(out), tmp_path / "again.jsonl").read_bytes() == out.read_bytes()


def test_implicitprm_falls_back_to_position_only_when_consistent(tmp_path, cache_dir, capsys):
    ref = _write_jsonl(tmp_path / "MATH500.jsonl", MATH_REF)
    recs = implicitprm_records()
    recs[2]["question"] = "Reformatted: compute 2 to the 5th."  # no text match, but counts agree
    out = tmp_path / "p.jsonl"
    assert _import("implicitprm", [_write_json(tmp_path / "g.json", recs)], out, "--reference-data", str(ref)) == 0
    assert "by position" in capsys.readouterr().out
    assert load_pool(out).problems[2].id == "test/algebra/3.json"

    # Swapped records: text matches contradict positions, so no position join; the first unmatched is named.
    recs = implicitprm_records()
    recs[0], recs[1] = recs[1], recs[0]
    recs[2]["question"] = "Something else entirely"
    bad = _write_json(tmp_path / "swapped.json", recs)
    out2 = tmp_path / "p2.jsonl"
    assert _import("implicitprm", [bad], out2, "--reference-data", str(ref)) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "field '[2].question'" in err and "disagree" in err and not out2.exists()


def flat_records(n: int = 4) -> list[dict]:
    """The authors' flat layout (bon_eval.py's input): one record per response, n per MATH-500 row, file order."""
    answers = {0: ["2", "3", "2", "11"], 1: ["\\frac{3}{2}", "1.5", "2", "\\frac32"], 2: ["32", "16", "16", "10"]}
    refs = {0: "2", 1: "\\frac{3}{2}", 2: "32"}
    out = []
    for idx in (0, 1, 2):
        for j in range(n):
            a = answers[idx][j]
            out.append({"idx": idx, "prompt": MATH_REF[idx]["problem"], "response": f"Step 1: think {j}.\n\n"
                        f"Step 2: so $\\boxed{{{a}}}$.", "steps": [f"Step 1: think {j}.", f"Step 2: so {a}."],
                        "extracted_output": a, "reference": refs[idx], "correctness": a in (refs[idx], "1.5",
                                                                                              "\\frac32")})
    return out


def test_implicitprm_flat_layout_imports_and_its_leaderboard_matches_an_independent_count(tmp_path, cache_dir,
                                                                                          capsys):
    from harness.core.scores import ScoreSet
    from harness.evaluation import leaderboard as lb
    ref = _write_jsonl(tmp_path / "MATH500.jsonl", MATH_REF)
    recs = flat_records()
    src = _write_json(tmp_path / "math-llama3.1-8b-inst-64.json", recs)
    out = tmp_path / "flat.jsonl"
    assert _import("implicitprm", [src], out, "--reference-data", str(ref)) == 0
    assert "flat layout, 12 responses of 3 problems (4 each), joined by idx" in capsys.readouterr().out
    pool = load_pool(out)
    assert [p.id for p in pool] == [r["unique_id"] for r in MATH_REF]
    assert [[r.text for r in p.responses] for p in pool] == [[r["response"] for r in recs[i:i + 4]]
                                                             for i in (0, 4, 8)]
    assert all(r.correct == r.extra["published_correct"] for p in pool for r in p.responses)
    assert pool.generator() == "math-llama3.1-8b-inst-64"
    # graded here beside the published labels (which stay in extra), with vote keys
    assert main(["grade", str(out), "--workers", "1"]) == 0
    pool = load_pool(out)
    assert [r.correct for p in pool for r in p.responses] == [r["correctness"] for r in recs]
    assert all(r.extra["published_correct"] == r.correct and "answer_key" in r.extra for p in pool for r in p.responses)

    # best-of-n (first n, as the authors' code takes them) and majority vote, against a count done by hand
    scores = [[[0.1], [0.9], [0.5], [0.2]], [[0.3], [0.2], [0.8], [0.1]], [[0.0], [0.7], [0.6], [0.9]]]
    ss = ScoreSet("hand", pool.content_hash(), scores)
    opts = lb.Options(methods=("best_of_n", "majority_vote", "pass_at_n"), ns=[2, 4], subsets="prefix", bootstrap=10)
    rows = {(r["method"], r["n"]): r["accuracy"] for r in lb.rows_of([lb.evaluate_pool(pool, [ss], opts, [2, 4])])}
    label = [[r["correctness"] for r in recs[i:i + 4]] for i in (0, 4, 8)]
    best = {n: sum(lab[max(range(n), key=lambda j: sc[j][0])] for lab, sc in zip(label, scores)) / 3 for n in (2, 4)}
    assert rows[("best_of_n", 2)] == pytest.approx(best[2]) and rows[("best_of_n", 4)] == pytest.approx(best[4])
    assert rows[("pass_at_n", 4)] == pytest.approx(1.0)
    # majority over 4: "2" (2 of 4) right; 3/2 = 1.5 = \\frac32 (3 of 4) right; "16" (2 of 4) wrong
    assert rows[("majority_vote", 4)] == pytest.approx(2 / 3)


def test_implicitprm_flat_layout_bad_idx_names_the_record(tmp_path, cache_dir, capsys):
    ref = _write_jsonl(tmp_path / "MATH500.jsonl", MATH_REF)
    recs = flat_records(2)
    recs[0]["idx"] = 1  # the idx of another row: its prompt does not match that row's problem
    shifted = _write_json(tmp_path / "shifted.json", recs)
    assert _import("implicitprm", [shifted], tmp_path / "o.jsonl", "--reference-data", str(ref)) == 2
    err = capsys.readouterr().err
    assert "field '[0].prompt'" in err and "idx 1" in err and not (tmp_path / "o.jsonl").exists()
    recs = flat_records(2)
    recs[3]["idx"] = 7
    bad = _write_json(tmp_path / "bad.json", recs)
    assert _import("implicitprm", [bad], tmp_path / "o.jsonl", "--reference-data", str(ref)) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "field '[3].idx'" in err and "row 7" in err and not (tmp_path / "o.jsonl").exists()


def test_implicitprm_with_real_math500(tmp_path, cache_dir):
    math500 = _need(DATA / "math500" / "MATH500.jsonl")
    rows = [json.loads(line) for line in math500.read_text(encoding="utf-8").splitlines()[:3]]
    recs = [{"question": r["problem"], "responses": [{"text": r["solution"], "extracted_output": r["answer"],
                                                       "correctness": True}]} for r in reversed(rows)]
    out = tmp_path / "p.jsonl"
    # No --reference-data: the default ../shared/data/math500/MATH500.jsonl is used.
    assert _import("implicitprm", [_write_json(tmp_path / "t.json", recs)], out) == 0
    pool = load_pool(out)
    assert [p.id for p in pool] == [r["unique_id"] for r in reversed(rows)]
    assert [p.reference for p in pool] == [r["answer"] for r in reversed(rows)]


# --- lm-eval (fixture in the layout lm_eval/evaluator.py logs with --log_samples) ------------------------------

def lm_eval_lines(k: int = 4) -> list[dict]:
    docs = [
        {"question": "Janet's ducks lay 16 eggs per day...", "answer": "She sells 16-3-4=9 eggs.\n#### 18"},
        {"question": "A robe takes 2 bolts...", "answer": "It takes 2+1=3 bolts.\n#### 1,234"},
    ]
    gens = [[f"Step 1: ... The answer is {18 + (j % 2)}." for j in range(k)],
            ["The answer is 1234."] * (k - 1) + ["I am not sure"]]
    lines = []
    for doc_id, (doc, g) in enumerate(zip(docs, gens)):
        extracted = [x.rsplit("is ", 1)[1].rstrip(".") if "answer is" in x else "[invalid]" for x in g]
        for filt, filtered in (("score-first", [extracted[0]]), ("maj@64", [max(extracted, key=extracted.count)]),
                               ("strict-match", [extracted])):
            line = {"doc_id": doc_id, "doc": doc, "target": doc["answer"],
                    "arguments": [[f"Q: {doc['question']}\nA:", {"until": ["Q:", "\n\n"], "do_sample": True}]],
                    "resps": [g], "filtered_resps": filtered, "filter": filt, "metrics": ["exact_match"],
                    "doc_hash": "h", "prompt_hash": "p", "target_hash": "t", "exact_match": 1.0}
            lines.append(line)
    return lines


def test_lm_eval_import(tmp_path, cache_dir):
    folder = tmp_path / "meta-llama__Llama-3.1-8B"
    folder.mkdir()
    src = _write_jsonl(folder / "samples_gsm8k_cot_self_consistency_2024-12-01T10-20-30.123456.jsonl",
                       lm_eval_lines(4))
    out = tmp_path / "l.jsonl"
    assert _import("lm-eval", [src], out) == 0
    pool = load_pool(out)
    assert [p.id for p in pool] == ["0", "1"]
    assert [p.reference for p in pool] == ["18", "1234"]
    assert pool.generator() == "meta-llama__Llama-3.1-8B"
    assert pool.problems[0].meta["task"] == "gsm8k_cot_self_consistency"
    assert pool.problems[0].meta["answer_filter"] == "strict-match"
    assert [r.answer for r in pool.problems[0].responses] == ["18", "19", "18", "19"]
    assert [r.answer for r in pool.problems[1].responses] == ["1234"] * 3 + [None]
    assert all(r.correct is None for p in pool for r in p.responses)  # lm-eval has no per-generation labels
    assert save_pool(load_pool(out), tmp_path / "again.jsonl").read_bytes() == out.read_bytes()


def test_lm_eval_math_doc_ids_and_no_per_response_filter(tmp_path, cache_dir):
    line = {"doc_id": 0, "doc": {"problem": "Compute $2^5$.", "answer": "32", "unique_id": "test/algebra/3.json"},
            "target": "32", "resps": [["$2^5=32$", "$2^5=10$"]], "filtered_resps": ["32"], "filter": "none"}
    out = tmp_path / "l.jsonl"
    assert _import("lm-eval", [_write_jsonl(tmp_path / "run.jsonl", [line])], out) == 0
    (p,) = load_pool(out).problems
    assert (p.id, p.reference, [r.answer for r in p.responses]) == ("test/algebra/3.json", "32", [None, None])
    assert p.meta["generator"] == "run"


# --- bad input: one message naming file, line (or record) and field; nothing written -----------------------------

def _qwen_row(**over):
    row = {"idx": 0, "question": "q", "gt": "1", "code": ["a", "b"], "pred": ["1", "2"], "score": [True, False],
           "pred_score": [[0.5], [0.1]]}
    row.update(over)
    return row


def _lm_line(**over):
    line = {"doc_id": 0, "doc": {"question": "q"}, "target": "#### 3", "resps": [["a", "b"]],
            "filtered_resps": [["3", "4"]], "filter": "strict-match"}
    line.update(over)
    return line


def _ovm_row(**over):
    row = {"idx": 0, "question": "q\n", "ground_truth": "3",
           "outputs": [{"response": "x", "response_answer": "3", "label": True}]}
    row.update(over)
    return row


BAD_INPUTS = {
    "qwen bad literal": ("qwen-rm-maj", "jsonl", [_qwen_row(), _qwen_row(idx=1, pred="['1', '2'")],
                         [":2", "field 'pred'", "Python-literal"]),
    "qwen length mismatch": ("qwen-rm-maj", "jsonl", [_qwen_row(score=[True])], [":1", "field 'score'"]),
    "qwen missing question": ("qwen-rm-maj", "jsonl", [{k: v for k, v in _qwen_row().items() if k != "question"}],
                              [":1", "field 'question'", "missing"]),
    "qwen non-numeric score": ("qwen-rm-maj", "jsonl", [_qwen_row(pred_score=[["x"], [0.1]])],
                               [":1", "field 'pred_score[0]'"]),
    "qwen wrong label": ("qwen-rm-maj", "jsonl", [_qwen_row(score=["yes", False])], [":1", "field 'score[0]'"]),
    "ovm missing response": ("ovm", "jsonl", [_ovm_row(), _ovm_row(outputs=[{"label": True}])],
                             [":2", "field 'outputs[0].response'"]),
    "ovm bad json": ("ovm", "raw", '{"idx": 0, "question": "q"\n', [":1", "invalid JSON"]),
    "lm-eval loglikelihood log": ("lm-eval", "jsonl", [_lm_line(resps=[[[-1.5, True]], [[-2.0, False]]])],
                                  [":1", "field 'resps'", "generation task"]),
    "lm-eval no problem": ("lm-eval", "jsonl", [_lm_line(doc={"text": "q"})],
                           [":1", "field 'doc.problem or question or Question'"]),
    "lm-eval conflicting runs": ("lm-eval", "jsonl", [_lm_line(), _lm_line(resps=[["c", "d"]])],
                                 [":2", "field 'resps'", "line 1"]),
    "implicitprm truncated array": ("implicitprm", "raw", json.dumps(implicitprm_records(), indent=1)[:-30],
                                    ["invalid JSON", "truncated"]),
    "implicitprm no responses": ("implicitprm", "json", [{"question": "What is $1+1$?"}],
                                 [":2", "field '[0].responses'", "missing"]),
    "implicitprm text not string": ("implicitprm", "json",
                                    [implicitprm_records()[0], {"question": "What is $1+1$?",
                                                                "responses": [{"text": 5}]}],
                                    [":", "field '[1].responses[0].text'", "a string"]),
    "implicitprm wrong correctness": ("implicitprm", "json",
                                      [{"question": "What is $1+1$?",
                                        "responses": [{"text": "2", "correctness": "maybe"}]}],
                                      ["field '[0].responses[0].correctness'"]),
    "duplicate ids": ("qwen-rm-maj", "jsonl", [_qwen_row(), _qwen_row()], ["duplicate id '0'", "field 'id'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_one_message_nothing_written(case, tmp_path, cache_dir, capsys):
    fmt, kind, content, must = BAD_INPUTS[case]
    src = tmp_path / ("in.json" if kind in ("json", "raw") and fmt == "implicitprm" else "in.jsonl")
    if kind == "jsonl":
        _write_jsonl(src, content)
    elif kind == "json":
        _write_json(src, content)
    else:
        src.write_text(content, encoding="utf-8")
    extra = []
    if fmt == "implicitprm":
        extra = ["--reference-data", str(_write_jsonl(tmp_path / "MATH500.jsonl", MATH_REF))]
    out = tmp_path / "out.jsonl"
    assert _import(fmt, [src], out, *extra) == 2
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert str(src) in lines[0] or "in.jsonl" in lines[0]
    for m in must:
        assert m in lines[0], (m, lines[0])
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists() and not cache_dir.exists()


def test_one_file_formats_refuse_several(tmp_path, cache_dir, capsys):
    a = _write_jsonl(tmp_path / "a.jsonl", [_qwen_row()])
    b = _write_jsonl(tmp_path / "b.jsonl", [_qwen_row(idx=1)])
    assert _import("qwen-rm-maj", [a, b], tmp_path / "o.jsonl") == 2
    assert "one FILE" in capsys.readouterr().err
    assert _import("nonsense", [a], tmp_path / "o.jsonl") == 2
    assert "unknown import format 'nonsense'" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_json_array_records_are_reported_by_start_line(tmp_path):
    from harness.core.errors import InputError
    from harness.importers._common import iter_records

    p = _write_json(tmp_path / "a.json", [{"a": 1, "b": [1, 2]}, {"a": 2}, {"c": "x\ny"}])
    assert [(line, prefix) for line, prefix, _ in iter_records(p)] == [(2, "[0]."), (9, "[1]."), (12, "[2].")]
    for text, line in (('[{"a": 1},\n{"a": 2} {"a": 3}]', 2), ('[{"a": 1}]\nextra', 2), ('[{"a": 1},\n{"a":', 2)):
        p.write_text(text)
        with pytest.raises(InputError) as e:
            list(iter_records(p))
        assert e.value.line == line, (text, str(e.value))
