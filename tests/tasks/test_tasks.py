"""The math500 and gsm8k tasks (local files, the hub path without network, clear errors) and step splitting on real
MATH-style and ProcessBench texts."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from _paths import DATA as DATA_ROOT

from harness.core.errors import InputError
from harness.core.steps import split_steps, step_spans
from tasks import TASKS, get_task

DATA = DATA_ROOT


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (the shared/data folder beside the checkout)")
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def fake_hub(monkeypatch):
    """A stand-in `datasets` module: records what was asked and serves rows or raises like an offline machine."""
    calls = []
    mod = types.ModuleType("datasets")

    def load_dataset(name, *args, split=None, **kw):
        calls.append((name, args, split))
        if mod.rows is None:
            raise ConnectionError(f"Couldn't reach '{name}' on the Hub (LocalEntryNotFoundError)")
        return mod.rows

    mod.load_dataset, mod.rows = load_dataset, None
    monkeypatch.setitem(sys.modules, "datasets", mod)
    return mod, calls


def test_registered():
    assert {"math500", "gsm8k"} <= set(TASKS.names())


# --- math500 ----------------------------------------------------------------------------------------------------

def test_math500_from_shared_data():
    path = _need(DATA / "math500" / "MATH500.jsonl")
    probs = get_task("math500").problems()  # default: ../shared/data/math500/MATH500.jsonl
    raw = _rows(path)
    assert len(probs) == 500 == len({p.id for p in probs})
    assert [(p.id, p.problem, p.reference) for p in probs] == [(r["unique_id"], r["problem"], r["answer"])
                                                                for r in raw]
    assert probs[0].id == "test/precalculus/807.json" and probs[0].reference == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert probs[0].meta == {"subject": "Precalculus", "level": 2}


def test_math500_data_path_file_or_folder(tmp_path):
    rows = [{"problem": "1+1?", "answer": "2", "unique_id": "u/1", "subject": "A", "level": 1},
            {"problem": "2+2?", "answer": 4, "unique_id": "u/2"}]
    (tmp_path / "MATH500.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for data in (tmp_path / "MATH500.jsonl", tmp_path):
        probs = get_task("math500", data=str(data)).problems("test")
        assert [(p.id, p.reference) for p in probs] == [("u/1", "2"), ("u/2", "4")]
    with pytest.raises(InputError, match="no 'train' split"):
        get_task("math500", data=str(tmp_path)).problems("train")


def test_math500_bad_local_file_names_line_and_field(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"problem": "x", "answer": "1", "unique_id": "a"}) + "\n"
                 + json.dumps({"problem": "y", "unique_id": "b"}) + "\n")
    with pytest.raises(InputError) as e:
        get_task("math500", data=str(p)).problems()
    assert (e.value.file, e.value.line, e.value.field) == (p, 2, "answer")
    with pytest.raises(InputError, match="file not found"):
        get_task("math500", data=str(tmp_path / "missing.jsonl")).problems()


def test_math500_hub_when_no_local_file(tmp_path, monkeypatch, fake_hub):
    from tasks.math500 import Math500

    hub, calls = fake_hub
    monkeypatch.setattr(Math500, "default_path", tmp_path / "absent.jsonl")
    hub.rows = [{"problem": "p", "solution": "s", "answer": "7", "subject": "S", "level": 3, "unique_id": "t/1"}]
    (p,) = get_task("math500").problems()
    assert (p.id, p.reference, p.meta) == ("t/1", "7", {"subject": "S", "level": 3})
    assert calls == [("HuggingFaceH4/MATH-500", (), "test")]

    hub.rows = None  # offline: one clear message naming what to pass
    with pytest.raises(InputError) as e:
        get_task("math500").problems()
    assert e.value.field == "--data" and "MATH500.jsonl" in str(e.value) and "HuggingFaceH4/MATH-500" in str(e.value)


# --- gsm8k ------------------------------------------------------------------------------------------------------

def test_gsm8k_from_shared_data():
    _need(DATA / "gsm8k" / "test.jsonl")
    task = get_task("gsm8k")
    test = task.problems("test")
    assert len(test) == 1319 and len(task.problems("train")) == 7473
    assert (test[0].id, test[0].reference) == ("test/0", "18")
    assert test[146].reference == "2125"  # '#### 2,125' in the file: commas removed
    for p in test:  # every reference is a plain number
        float(p.reference)
    raw = _rows(DATA / "gsm8k" / "test.jsonl")
    assert [p.problem for p in test] == [r["question"] for r in raw]


def test_gsm8k_local_folder_and_hub(tmp_path, monkeypatch, fake_hub):
    from tasks.gsm8k import GSM8K

    (tmp_path / "train.jsonl").write_text(json.dumps({"question": "q", "answer": "so 1,000 + 1\n#### 1,001"}) + "\n")
    (p,) = get_task("gsm8k", data=str(tmp_path)).problems("train")
    assert (p.id, p.reference, p.meta) == ("train/0", "1001", {"split": "train"})
    with pytest.raises(InputError, match="file not found"):
        get_task("gsm8k", data=str(tmp_path)).problems("test")  # the folder has no test.jsonl

    hub, calls = fake_hub
    monkeypatch.setattr(GSM8K, "default_dir", tmp_path / "absent")
    hub.rows = [{"question": "a", "answer": "#### 5"}, {"question": "b", "answer": "x\n#### -3"}]
    assert [(p.id, p.reference) for p in get_task("gsm8k").problems()] == [("test/0", "5"), ("test/1", "-3")]
    assert calls == [("openai/gsm8k", ("main",), "test")]
    hub.rows = None
    with pytest.raises(InputError) as e:
        get_task("gsm8k").problems()
    assert e.value.field == "--data" and "openai/gsm8k" in str(e.value)


def test_gsm8k_solution_without_marker(tmp_path):
    p = tmp_path / "test.jsonl"
    p.write_text(json.dumps({"question": "q", "answer": "no marker"}) + "\n")
    with pytest.raises(InputError) as e:
        get_task("gsm8k", data=str(p)).problems()
    assert (e.value.line, e.value.field) == (1, "answer")


# --- step splitting on real texts -------------------------------------------------------------------------------

def _processbench():
    files = sorted((DATA / "processbench").glob("*.json")) if (DATA / "processbench").exists() else []
    if not files:
        pytest.skip(f"ProcessBench not found under {DATA / 'processbench'}")
    return [r for f in files for r in json.loads(f.read_text(encoding="utf-8"))]


def test_paragraph_steps_recover_processbench_segmentation():
    """ProcessBench's human-labelled steps are paragraphs: joined with blank lines, split_steps gives them back."""
    recs = _processbench()
    unmarked = 0
    for r in recs:
        steps = [s.strip() for s in r["steps"]]
        text = "\n\n".join(steps)
        spans = step_spans(text)
        assert spans[0][0] == 0 and spans[-1][1] == len(text)
        assert all(a == b for (_, a), (b, _) in zip(spans, spans[1:]))  # contiguous: step scores add up
        if "Step 1" in text or "step 1" in text.lower():
            continue
        unmarked += 1
        assert split_steps(text) == steps, r["id"]
    assert unmarked > 3000


def test_step_markers_in_real_responses():
    """'**Step k: ...**' and '### Step k:' headers (real ProcessBench responses) start steps; the text before the
    first header is a step of its own; the paragraphs under one header stay in one step."""
    recs = {r["id"]: r for r in _processbench()}
    bold = next(r for r in recs.values() if len(r["steps"]) > 2 and r["steps"][1].startswith("**Step 1:"))
    steps = split_steps("\n\n".join(bold["steps"]))
    assert steps[0] == bold["steps"][0].strip()
    assert [s.split(":")[0] for s in steps[1:]] == [f"**Step {k}" for k in range(1, len(steps))]

    header = next(r for r in recs.values() if any(s.startswith("### Step 2:") for s in r["steps"]))
    text = "\n\n".join(s.strip() for s in header["steps"])
    steps = split_steps(text)
    starts = [s for s in steps if s.startswith("### Step")]
    assert [s.split(":")[0] for s in starts] == [f"### Step {k}" for k in range(1, len(starts) + 1)]
    assert not steps[0].startswith("### Step")  # the preamble
    assert "".join(text[a:b] for a, b in step_spans(text)) == text


def test_qwen_math_responses_split_into_paragraph_steps():
    path = _need(DATA / "qwen25math_rm_maj" / "math_cot_100.jsonl")
    d = _rows(path)[0]
    text = d["code"][0]  # real Qwen2.5-Math CoT: no step markers, blank-line paragraphs, display math
    steps = split_steps(text)
    assert steps == [p.strip() for p in text.split("\n\n") if p.strip()]
    assert steps[-1].startswith("Therefore") and "\\boxed{420}" in steps[-1]
