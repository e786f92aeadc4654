"""lm-evaluation-harness `--log_samples` output of a generation task run with `repeats: K`.

Each line is one (document, filter) pair: doc_id, doc, target, resps (resps[0] holds all K generations),
filtered_resps, filter and metric fields. A task with several filters (e.g. gsm8k_cot_self_consistency) logs the same
document once per filter; the generations are read from the first of those lines. A filter that keeps one value per
generation (a regex filter without take_first) gives each response its extracted answer; no correctness is
imported, since lm-eval scores only the filtered (voted) answer of a document, not each generation.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.core.pool import Problem, Response
from harness.importers import Imported, ImportOptions, register_importer
from harness.importers._common import Rec, iter_jsonl

FORMAT = "lm-eval"
INVALID = "[invalid]"  # what lm-eval's regex filter writes when nothing matched: no answer, not an answer
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+?)_\d{4}-\d{2}-\d{2}T[\d\-.:]+$")


def gsm8k_reference(target: str) -> str:
    """GSM8K targets carry the whole solution ending '#### 1,234'; the reference is the number, commas removed."""
    if "####" in target:
        return target.rsplit("####", 1)[1].strip().replace(",", "")
    return target.strip()


def _generations(rec: Rec) -> list[str]:
    _, resps = rec.listing("resps")
    expected = "a generation task's log: resps = [[generation, ...]]"
    if len(resps) != 1 or not isinstance(resps[0], list) or not resps[0]:
        rec.fail("resps", "not one request's list of generations", expected)
    for j, g in enumerate(resps[0]):
        if not isinstance(g, str):
            rec.fail(f"resps[0][{j}]", f"wrong type {type(g).__name__}", expected)
    return resps[0]


def _per_response_answers(rec: Rec, k: int) -> list[str | None] | None:
    fr = rec.data.get("filtered_resps")
    if not (isinstance(fr, list) and len(fr) == 1 and isinstance(fr[0], list) and len(fr[0]) == k
            and all(isinstance(a, str) for a in fr[0])):
        return None
    return [None if a == INVALID or not a.strip() else a for a in fr[0]]


def _default_generator(path: Path) -> str:
    # lm-eval writes <output_path>/<model name>/samples_<task>_<time>.jsonl: the folder names the model.
    if _SAMPLES_NAME.match(path.stem) and path.parent.name:
        return path.parent.name
    return path.stem


@register_importer(FORMAT)
def read(paths: list[Path], options: ImportOptions) -> Imported:
    problems: list[Problem] = []
    for path in paths:
        generator = options.generator or _default_generator(path)
        m = _SAMPLES_NAME.match(path.stem)
        task = m.group("task") if m else None
        # doc_id -> (first line's record, generations, per-response answers, the filter they came from)
        by_doc: dict[str, tuple[Rec, list[str], list[str | None] | None, str | None]] = {}
        for line, value in iter_jsonl(path):
            rec = Rec(value, path, line)
            _, doc_id = rec.first("doc_id")
            if isinstance(doc_id, bool) or not isinstance(doc_id, (int, str)):
                rec.fail("doc_id", f"wrong type {type(doc_id).__name__}", "an integer")
            gens = _generations(rec)
            answers = _per_response_answers(rec, len(gens))
            filt = rec.data.get("filter") if answers is not None else None
            key = str(doc_id)
            if key in by_doc:
                first, first_gens, first_answers, _ = by_doc[key]
                if gens != first_gens:
                    rec.fail("resps", f"generations differ from those of doc_id {doc_id} on line {first.line}",
                             "one run per file")
                if first_answers is None and answers is not None:
                    by_doc[key] = (first, first_gens, answers, filt)
                continue
            by_doc[key] = (rec, gens, answers, filt)
        for key, (rec, gens, answers, filt) in by_doc.items():
            _, doc = rec.first("doc")
            if not isinstance(doc, dict):
                rec.fail("doc", f"wrong type {type(doc).__name__}", "an object")
            docrec = Rec(doc, path, rec.line, "doc.")
            problem = docrec.text("problem", "question", "Question")
            pid = docrec.scalar("unique_id", "id", required=False) or key
            target = rec.scalar("target")
            meta = {"generator": generator, "source": f"{path.name}:{rec.line}", "source_format": FORMAT,
                    "doc_id": rec.data["doc_id"]}
            if task:
                meta["task"] = task
            if answers is not None and isinstance(filt, str):
                meta["answer_filter"] = filt
            for k in ("subject", "level", "type"):
                if k in doc:
                    meta[k] = doc[k]
            responses = [Response(g, None if answers is None else answers[j]) for j, g in enumerate(gens)]
            problems.append(Problem(pid, problem, gsm8k_reference(target), responses, meta))
    return Imported(problems)
