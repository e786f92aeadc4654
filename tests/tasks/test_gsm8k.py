"""The gsm8k task grades as GSM8K is graded: a number, found in an answer sentence or as the last number."""

from __future__ import annotations

import json
import re

from tasks.gsm8k import GSM8K

# ProcessBench gsm8k-338: the answer is stated in prose after a display whose words are variable names
TAIL = ("\\[Total\\ Cost = Base\\ Cost + Cost\\ for\\ Additional\\ Items = \\$129 + \\$195 = \\$324.\\]\n\n"
        "Therefore, the total cost for Angela's installations will be \\$324.")


def test_gsm8k_extracts_numbers():
    task = GSM8K()
    assert task.extract_answer("**Answer:** Verna received $7.00 in change.") == "7.00"
    assert task.extract_answer("so she makes $1,018 per week") == "1018"   # the last number, commas removed
    assert task.extract_answer(TAIL) == "324"
    assert task.is_correct(TAIL, "324")


def test_gsm8k_accepts_the_labelled_right_processbench_answers(shared_data):
    """Of the 200 ProcessBench-gsm8k solutions labelled right, the task's grader rejects 2: gsm8k-238 states its
    answer (34) in prose before a later number (4 weeks), gsm8k-319 boxes "4 blue shoe boxes and 6 red shoe boxes"
    for a total of 10."""
    refs = {re.sub(r"\s+", " ", r["question"]).strip(): r["answer"].rsplit("####", 1)[1].strip().replace(",", "")
            for r in map(json.loads, open(shared_data / "gsm8k" / "test.jsonl"))}
    rows = [r for r in json.loads((shared_data / "processbench" / "gsm8k.json").read_text())
            if r["final_answer_correct"]]
    task = GSM8K()
    rejected = [r["id"] for r in rows
                if not task.is_correct("\n\n".join(r["steps"]), refs[re.sub(r"\s+", " ", r["problem"]).strip()])]
    assert len(rows) == 200
    assert rejected == ["gsm8k-238", "gsm8k-319"]
