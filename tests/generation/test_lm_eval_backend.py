"""`harness generate --backend lm-eval` (harness.generation.lm_eval_backend): the pool holds exactly what lm-eval
generated and logged, in its order, with --n and --temperature overriding the task's YAML; a model type lm-eval does
not know, or vllm when it is not installed, is one clear error with nothing written."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.core.pool import load_pool
from tasks.arith import frozen

MID = frozen.generator_path("mid")


def test_generate_through_lm_eval_writes_every_generation_lm_eval_logged(tmp_path, capsys):
    out, logs = tmp_path / "pool.jsonl", tmp_path / "lm-eval"
    assert main(["--cache-dir", str(tmp_path / "cache"), "generate", "--task", "arith", "--backend", "lm-eval",
                 "--model", "hf", "--model-args", f"pretrained={MID},dtype=float32", "--n", "4", "--limit", "3",
                 "--temperature", "0.7", "--batch-size", "8", "-o", str(out), "--lm-eval-output", str(logs)]) == 0
    assert "3 problems x 4 responses" in capsys.readouterr().out  # --n and --temperature override the YAML's
    pool = load_pool(out)
    [samples_file] = logs.rglob("samples_harness_arith_*.jsonl")
    logged = sorted((json.loads(line) for line in samples_file.read_text().splitlines()), key=lambda s: s["doc_id"])
    assert [p.id for p in pool] == [s["doc"]["id"] for s in logged] == ["test/0", "test/1", "test/2"]
    for p, s in zip(pool, logged):
        assert [r.text for r in p.responses] == [g for r in s["resps"] for g in r]  # content and order
        assert p.meta["prompt"] == s["arguments"]["gen_args_0"]["arg_0"] and p.reference == s["target"]
        assert len(p.responses) == 4 and p.meta["sampling"]["temperature"] == 0.7
        assert p.meta["generator"] == "mid" and p.meta["temperature"] == 0.7 and p.meta["repeats"] == 4
    assert len({r.text for p in pool for r in p.responses}) > 3  # sampled, not greedy


def test_an_unknown_lm_eval_model_type_is_one_clear_error(tmp_path, capsys):
    assert main(["generate", "--task", "arith", "--backend", "lm-eval", "--model", "hff", "--model-args",
                 f"pretrained={MID}", "--limit", "1", "-o", str(tmp_path / "p.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "lm-eval could not run hff" in err and "Traceback" not in err and not (tmp_path / "p.jsonl").exists()


def test_vllm_without_vllm_is_one_clear_error(tmp_path, capsys):
    import importlib.util
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    assert main(["generate", "--task", "arith", "--backend", "lm-eval", "--model", "vllm", "--model-args",
                 f"pretrained={MID}", "-o", str(tmp_path / "p.jsonl")]) == 2
    assert "pip install vllm" in capsys.readouterr().err and not (tmp_path / "p.jsonl").exists()
