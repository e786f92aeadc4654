"""Pool files: bad input gives one message naming file, line and field (exit 2, no traceback, nothing written);
a save/load round trip keeps unknown keys and gives identical bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import REPO as REPO_ROOT

from harness.cli import main
from harness.core import cache
from harness.core.pool import Pool, Problem, Response, load_pool, save_pool

REPO = REPO_ROOT


def record(pid="p1", n=2, **over):
    rec = {"id": pid, "problem": "What is 1+1?", "reference": "2",
           "responses": [{"text": f"Step 1: 1+1=2\n\nThe answer is 2 ({j})", "answer": "2", "correct": True}
                         for j in range(n)],
           "meta": {"generator": "g"}}
    rec.update(over)
    return rec


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def good_lines(k=2) -> list[str]:
    return [json.dumps(record(f"p{i}")) + "\n" for i in range(k)]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path):
    cache.set_root(tmp_path / "cache")
    yield
    cache.set_root(None)



# name -> (lines of the pool file, what the one error line must contain besides the file name)
def _no_responses():
    rec = record("p1")
    del rec["responses"]
    return good_lines(1) + [json.dumps(rec) + "\n"]


def _text_not_string():
    rec = record("p1")
    rec["responses"][1]["text"] = 17
    return good_lines(1) + [json.dumps(rec) + "\n"]


def _correct_wrong_type():
    rec = record("p1")
    rec["responses"][0]["correct"] = "yes"
    return good_lines(1) + [json.dumps(rec) + "\n"]


BAD_POOLS = {
    "truncated last line": (lambda: good_lines(2) + [json.dumps(record("p9"))[:40]],
                            [":3", "invalid JSON", "truncated"]),
    "record without responses": (_no_responses, [":2", "field 'responses'", "missing field"]),
    "non-string response text": (_text_not_string, [":2", "field 'responses[1].text'", "expected a string"]),
    "wrong type for correct": (_correct_wrong_type, [":2", "field 'responses[0].correct'", "true, false or null"]),
    "empty pool": (lambda: ["\n", "  \n"], ["pool is empty"]),
    "duplicate id": (lambda: good_lines(2) + [json.dumps(record("p0")) + "\n"],
                     [":3", "field 'id'", "duplicate id 'p0'", "first on line 1"]),
    "record not an object": (lambda: good_lines(1) + ["[1, 2]\n"], [":2", "not a JSON object"]),
}


def _check_one_error(err: str, pool: Path, must: list[str]) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(pool) in lines[0], err
    for m in must:
        assert m in lines[0], (m, err)
    assert "Traceback" not in err


@pytest.mark.parametrize("case", sorted(BAD_POOLS))
def test_bad_pool_through_validate(case, tmp_path, capsys):
    make, must = BAD_POOLS[case]
    pool = write_lines(tmp_path / "bad.jsonl", make())
    assert main(["validate", str(pool)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    _check_one_error(err, pool, must)


@pytest.mark.parametrize("case", sorted(BAD_POOLS))
def test_bad_pool_through_import_writes_nothing(case, tmp_path, capsys):
    make, must = BAD_POOLS[case]
    pool = write_lines(tmp_path / "bad.jsonl", make())
    out_path = tmp_path / "out" / "merged.jsonl"
    assert main(["import", "--format", "pool", str(pool), "-o", str(out_path)]) == 2
    _check_one_error(capsys.readouterr().err, pool, must)
    assert not out_path.exists()
    leftovers = list(tmp_path.rglob("*.tmp")) + list((tmp_path / "cache").rglob("*"))
    assert leftovers == []


def test_missing_pool_and_folder_and_binary(tmp_path, capsys):
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00bad\n")
    for target, must in ((tmp_path / "nope.jsonl", "not found"), (tmp_path, "folder"),
                         (tmp_path / "bin.jsonl", "UTF-8")):
        assert main(["validate", str(target)]) == 2
        err = capsys.readouterr().err
        _check_one_error(err, target, [must])


def test_real_subprocess_exit_code_and_no_traceback(tmp_path):
    pool = write_lines(tmp_path / "bad.jsonl", _text_not_string())
    out_path = tmp_path / "out.jsonl"
    env = dict(os.environ, HARNESS_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "harness", "import", "--format", "pool", str(pool), "-o",
                           str(out_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    _check_one_error(proc.stderr, pool, [":2", "field 'responses[1].text'"])
    assert not out_path.exists()


def test_round_trip_keeps_unknown_keys_and_bytes(tmp_path):
    rec = record("a", n=3, difficulty={"level": 5, "tags": ["x"]}, source_row=17)
    rec["responses"][0]["logprob"] = -1.25
    rec["responses"][1] = {"text": "no grade yet", "tokens": 4}  # answer/correct missing: kept missing
    rec["responses"][2]["correct"] = False
    src = write_lines(tmp_path / "in.jsonl", [json.dumps(rec) + "\n", json.dumps(record("b", n=1)) + "\n"])

    first = save_pool(load_pool(src), tmp_path / "one.jsonl").read_bytes()
    second = save_pool(load_pool(tmp_path / "one.jsonl"), tmp_path / "two.jsonl").read_bytes()
    assert first == second
    back = json.loads(first.decode().splitlines()[0])
    assert back["difficulty"] == {"level": 5, "tags": ["x"]} and back["source_row"] == 17
    assert back["responses"][0]["logprob"] == -1.25
    assert back["responses"][1] == {"text": "no grade yet", "tokens": 4}
    assert back["responses"][2]["correct"] is False
    assert load_pool(tmp_path / "two.jsonl").content_hash() == load_pool(src).content_hash()


def test_validate_and_merge_summaries(tmp_path, capsys):
    rec = record("a", n=4)
    rec["responses"][3] = {"text": "ungraded"}
    rec["responses"][2]["correct"] = False
    a = write_lines(tmp_path / "a.jsonl", [json.dumps(rec) + "\n"])
    b = write_lines(tmp_path / "b.jsonl", [json.dumps(record("b", n=4)) + "\n"])
    assert main(["validate", str(a)]) == 0
    out = capsys.readouterr().out
    assert "1 problems, 4 responses, graded 75.0%" in out and "answers 75.0%" in out
    assert "66.7% of graded responses correct" in out

    merged = tmp_path / "m.jsonl"
    assert main(["import", "--format", "pool", str(a), str(b), "-o", str(merged)]) == 0
    assert "2 problems, 8 responses, graded 87.5%" in capsys.readouterr().out
    assert [p.id for p in load_pool(merged)] == ["a", "b"]
    # Merging a pool with itself would duplicate ids: refused, nothing written.
    again = tmp_path / "again.jsonl"
    assert main(["import", "--format", "pool", str(a), str(a), "-o", str(again)]) == 2
    assert "duplicate id 'a'" in capsys.readouterr().err and not again.exists()


def test_distinct_ratios_by_hand():
    from harness.core.pool import distinct_ratios
    pool = Pool([
        # correct: "a", "a", "b" -> 2 distinct of 3; wrong: "x", "y" -> 2 of 2
        Problem("p1", "q", "1", [Response("a", "1", True), Response("a", "1", True), Response("b", "1", True),
                                 Response("x", "2", False), Response("y", "3", False)]),
        # the same text in another problem is another text: correct 1 of 1; wrong "x", "x", "x" -> 1 of 3
        Problem("p2", "q", "1", [Response("a", "1", True), Response("x", "2", False), Response("x", "2", False),
                                 Response("x", "2", False)]),
    ])
    assert distinct_ratios(pool) == {"correct": 3 / 4, "wrong": 3 / 5}
    assert distinct_ratios(Pool([Problem("p", "q", "1", [Response("a", "1", True)])])) == {"correct": 1.0,
                                                                                          "wrong": None}
