"""Qwen2.5-Math's reward-model / majority-vote example output (evaluation/data/eval_rm_maj_example/*.jsonl).

One problem a line: question, gt (reference), code (or response): the sampled solutions, pred: their extracted
answers, score: their correctness, pred_score: the reward model's score of each ([[3.5], [3.1], ...]). The list
fields are JSON lists in the published file; some versions of the script write them as strings holding Python
literals, which are parsed with ast.literal_eval. The reward-model scores come along as a score set named after the
file, so the leaderboard can rank them without the reward model.
"""

from __future__ import annotations

import math
from pathlib import Path

from harness.core.cache import file_hash
from harness.core.errors import InputError
from harness.core.pool import Problem, Response
from harness.importers import Imported, ImportedScores, ImportOptions, register_importer
from harness.importers._common import (
    Rec,
    as_answer,
    as_label,
    iter_jsonl,
    load_reference,
    normalize_problem,
)

FORMAT = "qwen-rm-maj"


def _score(v, rec: Rec, field: str) -> float:
    if isinstance(v, list) and len(v) == 1:  # the published file wraps each score in a one-element list
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        rec.fail(field, f"wrong value {v!r}", "a number or a one-number list")
    return float(v)


@register_importer(FORMAT)
def read(paths: list[Path], options: ImportOptions) -> Imported:
    if len(paths) != 1:
        raise InputError(f"{FORMAT} takes one FILE (its reward-model scores belong to that file's pool)",
                         expected="one FILE per pool")
    path = paths[0]
    generator = options.generator or path.stem
    by_text = None
    if options.reference_data:  # optional: MATH's unique_ids instead of the file's idx
        by_text = {normalize_problem(r.data["problem"]): r.data["unique_id"]
                   for r in load_reference(options.reference_data)}
    problems, scores = [], []
    for i, (line, value) in enumerate(iter_jsonl(path)):
        rec = Rec(value, path, line)
        question = rec.text("question")
        reference = rec.scalar("gt")
        text_field, texts = rec.listing("code", "response")
        lists = {"pred": rec.listing("pred")[1], "score": rec.listing("score")[1],
                 "pred_score": rec.listing("pred_score")[1]}
        if not texts:
            rec.fail(text_field, "no responses", "at least one response")
        for name, values in lists.items():
            if len(values) != len(texts):
                rec.fail(name, f"{len(values)} entries for {len(texts)} responses in '{text_field}'",
                         f"one per response ({len(texts)})")
        responses = []
        for j, t in enumerate(texts):
            if not isinstance(t, str):
                rec.fail(f"{text_field}[{j}]", f"wrong type {type(t).__name__}", "a string")
            responses.append(Response(t, as_answer(lists["pred"][j], rec, f"pred[{j}]"),
                                      as_label(lists["score"][j], rec, f"score[{j}]")))
        scores.append([[_score(s, rec, f"pred_score[{j}]")] for j, s in enumerate(lists["pred_score"])])
        idx = rec.data.get("idx", i)
        if by_text is not None:
            pid = by_text.get(normalize_problem(question))
            if pid is None:
                rec.fail("question", f"problem not found in the reference data {options.reference_data}",
                         "a problem of that file, or no --reference-data")
        else:
            pid = as_answer(idx, rec, "idx", allow_none=False)
        meta = {"generator": generator, "source": f"{path.name}:{line}", "source_format": FORMAT, "idx": idx}
        if isinstance(rec.data.get("level"), str):
            meta["level"] = rec.data["level"]
        problems.append(Problem(pid, question, reference, responses, meta))
    rm_meta = {"kind": "reward", "source": path.name, "source_hash": file_hash(path), "source_format": FORMAT,
               "field": "pred_score"}
    return Imported(problems, [ImportedScores(path.stem, scores, rm_meta)])
