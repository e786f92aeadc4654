"""The bad-input corpus: everything a user hands us, broken in the ways it breaks in practice.

Each case runs the real CLI (`harness.cli.main`) and asserts: exit code 2, exactly one `error:` line, no traceback,
the line names the file (and line) or the field at fault, and nothing was written (no output file, no cache entry).
Pathological grader input is the other kind of case: it must be graded (as wrong) within its timeout, not fail.
More pool-file cases (truncated line, wrong types) are in tests/core/test_pool.py.
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
from pathlib import Path

import pytest
from _smoke_pool import smoke_pool_file

from harness.cli import main


class Boom:
    """Unpickling this creates a marker file: the proof that a pickle-only checkpoint was never unpickled."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def inputs(tiny_lm_dir, tmp_path_factory):
    """Good and broken files shared by the cases: pools, task data, configs, model folders."""
    d = tmp_path_factory.mktemp("inputs")
    m0, m1 = tiny_lm_dir("nano", 0), tiny_lm_dir("nano", 1)
    good = smoke_pool_file(d / "pool.jsonl", problems=3, responses=2)
    lines = good.read_text().splitlines(keepends=True)

    def write(name, text, binary=False):
        (d / name).write_bytes(text) if binary else (d / name).write_text(text)
        return d / name
    rec = json.loads(lines[1])
    del rec["responses"]
    write("no_responses.jsonl", lines[0] + json.dumps(rec) + "\n")
    write("bad_json.jsonl", lines[0] + '{"id": "x", "problem": \n')
    write("dup.jsonl", lines[0] + lines[1] + lines[0])
    write("latin1.jsonl", b"\xff\xfe{}\n", binary=True)
    (d / "folder.jsonl").mkdir()

    write("math_missing_answer.jsonl", json.dumps({"problem": "1+1", "answer": "2", "unique_id": "a"}) + "\n"
          + json.dumps({"problem": "2+2", "unique_id": "b"}) + "\n")
    write("math_bad_json.jsonl", json.dumps({"problem": "1+1", "answer": "2", "unique_id": "a"}) + "\n{oops\n")
    write("gsm_no_marker.jsonl", json.dumps({"question": "q", "answer": "#### 4"}) + "\n"
          + json.dumps({"question": "q2", "answer": "it is 5"}) + "\n")

    write("cfg_bad_json.json", '{\n  "lr": 0.001,\n  "epochs": ,\n}\n')
    write("cfg_list.json", "[1, 2]\n")
    write("cfg_unknown.json", '{\n  "lr": 0.001,\n  "temperature": 0.7\n}\n')
    write("cfg_bad_value.json", '{\n  "beta": 0.05,\n  "epochs": "many"\n}\n')
    write("cfg_nested.json", '{\n  "lr": {"start": 1}\n}\n')
    write("cfg_ok.json", '{"seed": 3}\n')

    def model_copy(name, keep):
        out = d / name
        out.mkdir()
        for f in keep:
            shutil.copy(m0 / f, out / f)
        return out
    pickled = model_copy("pickled", ["config.json", "tokenizer.json", "tokenizer_config.json"])
    with open(pickled / "pytorch_model.bin", "wb") as f:
        pickle.dump(Boom(str(d / "UNPICKLED")), f)
    model_copy("no_tokenizer", ["config.json", "model.safetensors"])
    model_copy("no_config", ["model.safetensors", "tokenizer.json", "tokenizer_config.json"])
    from reward_models.lm.loading import load_tokenizer
    other = model_copy("other_vocab", ["config.json", "model.safetensors"])
    tok = load_tokenizer(m0)
    tok.add_tokens(["<extra>"])
    tok.save_pretrained(other)
    return {"d": d, "m0": str(m0), "m1": str(m1), "pool": str(good)}


def score(rm: str, *extra: str) -> list[str]:
    return ["score", "--rm", rm, "--pool", "{pool}", "--set", "progress=false", *extra] if rm != "random" else \
        ["score", "--rm", rm, "--pool", "{pool}", *extra]


def implicit(model: str, ref: str = "{m0}") -> list[str]:
    return score("implicit_ce", "--model", model, "--ref", ref)


D = "{d}/"
# name -> (argv, substrings the one error line must contain, extra environment)
CASES: dict[str, tuple[list[str], list[str], dict]] = {
    # pool files
    "pool missing": (["score", "--rm", "random", "--pool", D + "nope.jsonl"], [D + "nope.jsonl", "not found"], {}),
    "pool is a folder": (["score", "--rm", "random", "--pool", D + "folder.jsonl"], [D + "folder.jsonl", "folder"],
                         {}),
    "pool invalid JSON": (["score", "--rm", "random", "--pool", D + "bad_json.jsonl"],
                          [D + "bad_json.jsonl:2", "invalid JSON"], {}),
    "pool missing field": (["score", "--rm", "random", "--pool", D + "no_responses.jsonl"],
                           [D + "no_responses.jsonl:2", "field 'responses'"], {}),
    "pool duplicate id": (["score", "--rm", "random", "--pool", D + "dup.jsonl"],
                          [D + "dup.jsonl:3", "field 'id'", "duplicate"], {}),
    "pool not UTF-8": (["score", "--rm", "random", "--pool", D + "latin1.jsonl"], [D + "latin1.jsonl", "UTF-8"], {}),
    "train pool invalid JSON": (score("implicit_ce", "--train-pool", D + "bad_json.jsonl", "--base", "{m0}"),
                                [D + "bad_json.jsonl:2"], {}),
    # task data
    "math500 missing answer": (["generate", "--task", "math500", "--data", D + "math_missing_answer.jsonl",
                                "--model", "{m0}", "--n", "2", "-o", D + "out/gen.jsonl"],
                               [D + "math_missing_answer.jsonl:2", "field 'answer'"], {}),
    "math500 invalid JSON": (["generate", "--task", "math500", "--data", D + "math_bad_json.jsonl", "--model",
                              "{m0}", "--n", "2", "-o", D + "out/gen.jsonl"], [D + "math_bad_json.jsonl:2"], {}),
    "math500 data missing": (["generate", "--task", "math500", "--data", D + "absent.jsonl", "--model", "{m0}",
                              "-o", D + "out/gen.jsonl"], [D + "absent.jsonl", "field '--data'"], {}),
    "gsm8k answer without ####": (["generate", "--task", "gsm8k", "--data", D + "gsm_no_marker.jsonl", "--model",
                                   "{m0}", "--n", "2", "-o", D + "out/gen.jsonl"],
                                  [D + "gsm_no_marker.jsonl:2", "field 'answer'", "####"], {}),
    # command-line arguments
    "--n 0": (["run", "--rm", "random", "--pool", "{pool}", "--n", "0"], ["field '--n'"], {}),
    "--n not a number": (["run", "--rm", "random", "--pool", "{pool}", "--n", "1,two"], ["field '--n'", "1,two"], {}),
    "unknown --rm": (["score", "--rm", "implicit_xyz", "--pool", "{pool}"], ["field '--rm'", "implicit_xyz"], {}),
    "unknown --set key": (score("implicit_ce", "--set", "temperature=1"), ["field 'temperature'", "unknown option"],
                          {}),
    "bad --set value": (score("implicit_ce", "--set", "lr=fast"), ["field 'lr'", "fast"], {}),
    "--set without =": (score("implicit_ce", "--set", "lr"), ["field '--set'", "KEY=VALUE"], {}),
    "--batch-size 0": (score("implicit_ce", "--batch-size", "0"), ["field '--batch-size'"], {}),
    "--threads 0": (score("random", "--threads", "0"), ["field '--threads'"], {}),
    "unknown --aggregation": (["run", "--rm", "random", "--pool", "{pool}", "--aggregation", "median"],
                              ["field 'aggregation'", "median"], {}),
    "unknown --subsets": (["run", "--rm", "random", "--pool", "{pool}", "--subsets", "all"], ["field 'subsets'"], {}),
    "unknown --protocol": (["run", "--rm", "random", "--pool", "{pool}", "--protocol", "nonsense"],
                           ["field '--protocol'", "nonsense", "paper"], {}),
    "leaderboard unknown --protocol": (["leaderboard", "--pool", "{pool}", "--protocol", "nonsense"],
                                       ["field '--protocol'", "nonsense"], {}),
    "--set steps=nonsense": (["run", "--rm", "eurus_prm", "--pool", "{pool}", "--set", "steps=nonsense"],
                             ["field 'steps'", "nonsense", "publisher"], {}),
    "unknown --task": (["score", "--rm", "random", "--task", "algebra", "--pool", "{pool}"], ["field '--task'"], {}),
    "option of another task": (["run", "--rm", "random", "--task", "arith", "--max-per-split", "5"],
                               ["field '--max-per-split'", "task 'arith'", "'processbench'"], {}),
    "option of two other tasks": (["run", "--rm", "random", "--task", "math500", "--pool", "{pool}",
                                   "--max-problems", "5"],
                                  ["field '--max-problems'", "task 'math500'", "'gsm8k-gpt3', 'processbench'"], {}),
    "option of a task, not of this one": (["run", "--rm", "random", "--task", "gsm8k-gpt3", "--splits", "math"],
                                          ["field '--splits'", "task 'gsm8k-gpt3'", "'processbench'"], {}),
    "unknown --scale": (["score", "--rm", "random", "--scale", "huge"], ["field '--scale'", "huge"], {}),
    "unknown generator": (["score", "--rm", "random", "--generators", "weak,giant"], ["field '--generators'"], {}),
    "grade --timeout 0": (["grade", "{pool}", "--timeout", "0", "-o", D + "out/g.jsonl"], ["field '--timeout'"], {}),
    "grade --workers -1": (["grade", "{pool}", "--workers", "-1", "-o", D + "out/g.jsonl"], ["field '--workers'"],
                           {}),
    "bad chunk size in environment": (score("loglik", "--model", "{m0}"), ["field 'HARNESS_CHUNK_PROBLEMS'"],
                                      {"HARNESS_CHUNK_PROBLEMS": "0"}),
    "bad RANK in environment": (score("random"), ["field 'RANK'"], {"RANK": "zero", "WORLD_SIZE": "2"}),
    # config files
    "config missing": (score("implicit_ce", "--config", D + "nope.json"), [D + "nope.json", "not found"], {}),
    "config invalid JSON": (score("implicit_ce", "--config", D + "cfg_bad_json.json"),
                            [D + "cfg_bad_json.json:3", "invalid JSON"], {}),
    "config not an object": (score("implicit_ce", "--config", D + "cfg_list.json"),
                             [D + "cfg_list.json", "not a JSON object"], {}),
    "config unknown key": (score("implicit_ce", "--config", D + "cfg_unknown.json"),
                           [D + "cfg_unknown.json:3", "field 'temperature'"], {}),
    "config bad value": (score("implicit_ce", "--config", D + "cfg_bad_value.json"),
                         [D + "cfg_bad_value.json:3", "field 'epochs'", "many"], {}),
    "config nested value": (score("implicit_ce", "--config", D + "cfg_nested.json"),
                            [D + "cfg_nested.json:2", "field 'lr'"], {}),
    # model folders
    "model folder missing": (implicit(D + "no_such_model"), [D + "no_such_model", "not found"], {}),
    "reference folder missing": (implicit("{m1}", D + "no_such_ref"), [D + "no_such_ref", "not found"], {}),
    "pickle-only policy": (implicit(D + "pickled"), [D + "pickled", "refusing to unpickle"], {}),
    "pickle-only reference": (implicit("{m1}", D + "pickled"), [D + "pickled", "refusing to unpickle"], {}),
    "pickle-only loglik model": (score("loglik", "--model", D + "pickled"), [D + "pickled", "unpickle"], {}),
    "missing tokenizer": (implicit(D + "no_tokenizer"), [D + "no_tokenizer", "tokenizer"], {}),
    "missing config.json": (implicit(D + "no_config"), [D + "no_config", "config.json"], {}),
    "model is a file": (implicit("{pool}"), ["{pool}", "not a model folder"], {}),
    "policy and reference tokenizers differ": (implicit(D + "other_vocab"),
                                               ["{m0}", "field 'reference'", "tokenizers differ"], {}),
    "ORM without value head": (score("orm", "--model", "{m0}"), ["{m0}/value_head.safetensors", "value head"], {}),
}


def _fill(s: str, inputs) -> str:
    return s.format(**inputs)


def written(root: Path) -> list[Path]:
    """Files a run left under `root`, other than lock files (empty, kept by design so waiting runs stay safe)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and "locks" not in p.relative_to(root).parts)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_error_and_writes_nothing(case, inputs, tmp_path, capsys, monkeypatch):
    one_clear_error(*CASES[case], inputs, tmp_path, capsys, monkeypatch)


def one_clear_error(argv, must, env, inputs, tmp_path, capsys, monkeypatch):
    from harness.core import distributed
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(distributed, "_WORLD", None)  # read the launcher's variables afresh
    before = written(inputs["d"])
    cache_dir = tmp_path / "cache"
    rc = main(["--cache-dir", str(cache_dir)] + [_fill(a, inputs) for a in argv])
    out, err = capsys.readouterr()
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(errors) == 1, err[-2000:]
    assert "Traceback" not in err and out == ""
    for m in must:
        assert _fill(m, inputs) in errors[0], (m, errors[0])
    assert written(cache_dir) == [] if cache_dir.exists() else True
    assert written(inputs["d"]) == before  # no output file, no temporary file beside the inputs
    assert not (inputs["d"] / "UNPICKLED").exists()


SHEPHERD = "peiyi9979/math-shepherd-mistral-7b-prm"
# Released checkpoints as published on the Hub (an offline hub cache: main holds only pickle weights, refs/pr/5 a
# safetensors copy, as the release has them): name -> (argv, substrings of the one error line)
HUB_CASES: dict[str, tuple[list[str], list[str]]] = {
    "pickle-only release folder": (score("hf_prm", "--model", D + "math-shepherd-mistral-7b-prm"),
                                   ["math-shepherd-mistral-7b-prm", "refusing to unpickle", SHEPHERD, "refs/pr/"]),
    "pickle-only Hub repository": (score("hf_prm", "--model", SHEPHERD),
                                   [SHEPHERD, "no safetensors", "refs/pr/", "--set revision="]),
    "unknown revision": (score("hf_prm", "--model", SHEPHERD, "--set", "revision=refs/pr/99"),
                         [SHEPHERD, "revision 'refs/pr/99'", "field 'revision'"]),
    "revision for a local folder": (score("hf_prm", "--model", "{m0}", "--set", "revision=refs/pr/5"),
                                    ["field 'revision'", "local folder"]),
}


@pytest.mark.parametrize("case", list(HUB_CASES))
def test_released_checkpoints_that_cannot_be_loaded_as_asked_are_one_clear_error(case, inputs, tmp_path, capsys,
                                                                                 monkeypatch):
    import huggingface_hub.constants as hub_constants
    from _released import fake_hub
    d, hub = inputs["d"], inputs["d"] / "hub"
    if not (d / "math-shepherd-mistral-7b-prm").exists():
        shutil.copytree(d / "pickled", d / "math-shepherd-mistral-7b-prm")
        fake_hub(hub, SHEPHERD, {"main": d / "pickled", "refs/pr/5": Path(inputs["m0"])})
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))
    argv, must = HUB_CASES[case]
    one_clear_error(argv, must, {"HF_HUB_OFFLINE": "1"}, inputs, tmp_path, capsys, monkeypatch)


def test_a_released_checkpoint_at_its_safetensors_revision_runs(inputs, tmp_path, capsys, monkeypatch):
    """The same command as the cases above, at the revision that holds safetensors, scores (exit 0)."""
    import huggingface_hub.constants as hub_constants
    from _released import fake_hub
    hub = tmp_path / "hub"
    fake_hub(hub, SHEPHERD, {"main": inputs["d"] / "pickled", "refs/pr/5": Path(inputs["m0"])})
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = [_fill(a, inputs) for a in score("hf_prm", "--model", SHEPHERD, "--set", "revision=refs/pr/5",
                                            "--set", "step_tag=@")]
    assert main(["--cache-dir", str(tmp_path / "cache")] + argv) == 0, capsys.readouterr().err[-2000:]
    assert not (inputs["d"] / "UNPICKLED").exists()


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


def test_config_file_options_reach_the_reward_model(inputs, tmp_path, capsys):
    """The good path of --config, so the cases above fail for the reason they name."""
    cache_dir = tmp_path / "cache"
    rc = main(["--cache-dir", str(cache_dir), "score", "--rm", "random", "--pool", inputs["pool"], "--config",
               str(inputs["d"] / "cfg_ok.json")])
    assert rc == 0
    (entry,) = cache_dir.glob("scores/*/random-*.json")
    assert json.loads(entry.read_text())["meta"]["seed"] == 3


# --- score files in the cache --------------------------------------------------------------------------------------

def _score_file(cache_dir: Path, pool: str) -> Path:
    from harness.core import cache
    from harness.core.pool import load_pool
    with cache.using(cache_dir):
        from harness.core.scores import score_dir
        return score_dir(load_pool(pool).content_hash()) / "hand-made.json"


@pytest.mark.parametrize("content, must", [
    ("{truncated", ["cannot read score set"]),
    ("[1, 2]", ["not a score set"]),
    ('{"rm": "x", "pool_hash": "h"}', ["field 'step_scores'"]),
], ids=["not JSON", "not an object", "missing field"])
def test_hand_made_score_file_is_named(content, must, inputs, tmp_path, capsys):
    cache_dir = tmp_path / "cache"
    path = _score_file(cache_dir, inputs["pool"])
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert main(["--cache-dir", str(cache_dir), "leaderboard", "--pool", inputs["pool"]]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("error:") == 1 and str(path) in err
    for m in must:
        assert m in err


def test_score_file_for_another_pool_shape_is_named(inputs, tmp_path, capsys):
    cache_dir = tmp_path / "cache"
    path = _score_file(cache_dir, inputs["pool"])
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"rm": "x", "pool_hash": path.parent.name, "step_scores": [[[0.5]]]}))
    assert main(["--cache-dir", str(cache_dir), "leaderboard", "--pool", inputs["pool"]]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and inputs["pool"] in err and "has 1 problems, pool has 3" in err


# --- pathological grader input: graded as wrong within the timeout, never an error or a hang ------------------------

PATHOLOGICAL = [
    "10^{10^{10}}", "2^{2^{2^{2^{2}}}}", "9999999999!", "1" * 5000, "x" * 5000, "\\frac{" * 300,
    "\\sqrt{" * 200 + "2", "}}}{{{", "\\left(" * 500, "((((" * 250 + "1", "1e999999", "\\begin{pmatrix}" * 100,
]


def test_pathological_answers_are_graded_within_the_timeout(tmp_path, capsys):
    lines = []
    for i, ans in enumerate(PATHOLOGICAL):
        lines.append(json.dumps({"id": f"a{i}", "problem": "?", "reference": "5",
                                 "responses": [{"text": "so", "answer": ans}]}))
        lines.append(json.dumps({"id": f"r{i}", "problem": "?", "reference": ans,
                                 "responses": [{"text": "so", "answer": "5"}]}))
    pool = tmp_path / "patho.jsonl"
    pool.write_text("\n".join(lines) + "\n")
    timeout = 2.0
    t0 = time.monotonic()
    rc = main(["--cache-dir", str(tmp_path / "cache"), "grade", str(pool), "--timeout", str(timeout), "--workers",
               "1", "--no-progress", "-o", str(tmp_path / "graded.jsonl")])
    elapsed = time.monotonic() - t0
    assert rc == 0, capsys.readouterr().err
    graded = [json.loads(ln) for ln in (tmp_path / "graded.jsonl").read_text().splitlines()]
    assert [p["responses"][0]["correct"] for p in graded] == [False] * len(lines)
    # every comparison is bounded by the timeout (a worker start-up on top); most are refused at once
    assert elapsed < 10 + timeout * len(lines) / 4, elapsed
