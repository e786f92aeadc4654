"""The ImplicitPRM authors' best-of-N test sets (PRIME-RL/ImplicitPRM): a JSON array (or JSON Lines) of

    {"question" | "problem": ..., "reference"?: ...,
     "responses": [{"text" | "response": ..., "extracted_output"?: ..., "correctness"?: true}, ...]}

joined with MATH500.jsonl (problem, answer, unique_id, subject, level) by problem text, so ids are MATH's
unique_ids and references are MATH-500's answers. When some problem texts differ (a tool reformatted them) and the
file has exactly as many records as the reference data, records are joined by position instead, provided every
text match agrees with its position.

Their flat layout (what their eval/bon_eval.py reads once responses are scored and graded) is also read: one record
per response,

    {"idx": 3, "prompt": problem text, "response": ..., "steps"?: [...], "extracted_output": ..., "reference": ...,
     "correctness": true}

64 (or any number of) records per idx, idx being the row of MATH500.jsonl they belong to. Responses keep file order
within their problem. Their `correctness` is kept as the published label (`correct`, and extra.published_correct,
which a later `grade` leaves in place beside its own verdict) and their reference as meta.published_reference when
it differs from MATH-500's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.core.pool import Problem, Response
from harness.importers import Imported, ImportOptions, register_importer
from harness.importers._common import (
    Rec,
    as_label,
    iter_records,
    load_reference,
    normalize_problem,
    shared_data,
)

FORMAT = "implicitprm"


def _responses(rec: Rec) -> list[Response]:
    _, items = rec.listing("responses")
    if not items:
        rec.fail("responses", "no responses", "at least one response")
    out = []
    for j, item in enumerate(items):
        where = f"responses[{j}]"
        if isinstance(item, str):
            out.append(Response(item))
            continue
        if not isinstance(item, dict):
            rec.fail(where, f"wrong type {type(item).__name__}", "an object with 'text' or 'response', or a string")
        sub = Rec(item, rec.file, rec.line, rec.prefix + where + ".")
        text = sub.text("text", "response")
        answer = sub.scalar("extracted_output", required=False)
        correct = as_label(item.get("correctness"), sub, "correctness")
        out.append(Response(text, answer, correct))
    return out


@dataclass
class _Parsed:
    rec: Rec
    field: str  # "question" or "problem": named in errors
    problem: str
    responses: list[Response]


def _join(parsed: list[_Parsed], refs: list[Rec], ref_path: Path) -> tuple[list[int], str]:
    """Index into `refs` of every record, and how the join was made."""
    index: dict[str, int] = {}
    for k, r in enumerate(refs):
        index.setdefault(normalize_problem(r.data["problem"]), k)
    found = [index.get(normalize_problem(p.problem)) for p in parsed]
    if all(k is not None for k in found):
        return found, "text"  # type: ignore[return-value]
    first_missing = next(i for i, k in enumerate(found) if k is None)
    if len(parsed) == len(refs) and all(k is None or k == i for i, k in enumerate(found)):
        return list(range(len(parsed))), "position"
    bad = parsed[first_missing]
    why = (f"{len(parsed)} records, {len(refs)} in the reference data" if len(parsed) != len(refs)
           else "text matches disagree with positions")
    bad.rec.fail(bad.field, f"problem not found in the reference data {ref_path} and cannot join by "
             f"position ({why})", "a MATH-500 problem; pass --reference-data with the file these came from")


def _is_flat(value) -> bool:
    return isinstance(value, dict) and "idx" in value and "response" in value and "responses" not in value


def _read_flat(path: Path, records: list[Rec], refs: list[Rec] | None, ref_path, generator: str,
               notes: list[str]) -> list[Problem]:
    groups: dict[int, list[Rec]] = {}
    for rec in records:
        if not _is_flat(rec.data):
            rec.fail("idx", "a record of the nested layout in a flat file", "every record with idx and response")
        idx = rec.data["idx"]
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            rec.fail("idx", f"wrong value {idx!r}", "a row number of MATH500.jsonl (an integer >= 0)")
        if refs is not None and idx >= len(refs):
            rec.fail("idx", f"row {idx} but the reference data has {len(refs)} rows", f"< {len(refs)} ({ref_path})")
        groups.setdefault(idx, []).append(rec)
    problems = []
    for idx, recs in groups.items():
        first = recs[0]
        text = first.text("prompt", "question", "problem")
        responses = []
        for rec in recs:
            published = as_label(rec.data.get("correctness"), rec, "correctness")
            extra = {} if published is None else {"published_correct": published}
            responses.append(Response(rec.text("response"), rec.scalar("extracted_output", required=False),
                                      published, extra))
        own_ref = first.scalar("reference", required=False)
        meta = {"generator": generator, "source": f"{path.name}:{first.line}", "source_format": FORMAT + "-flat",
                "idx": idx}
        if refs is not None:
            ref = refs[idx]
            pid, reference = ref.data["unique_id"], ref.scalar("answer", required=False) or own_ref
            if normalize_problem(text) != normalize_problem(ref.data["problem"]):
                first.fail("prompt", f"idx {idx} names row {idx} of {ref_path}, whose problem is a different text",
                           "the prompt of that MATH500.jsonl row (idx counts rows from 0); pass --reference-data "
                           "with the file these came from")
            for key in ("subject", "level"):
                if key in ref.data:
                    meta[key] = ref.data[key]
            if own_ref is not None and own_ref != reference:
                meta["published_reference"] = own_ref
        else:
            pid, reference = str(idx), own_ref
        if reference is None:
            first.fail("reference", "no reference answer in the record or the reference data",
                       "a 'reference' field, or --reference-data PATH to MATH500.jsonl")
        problems.append(Problem(pid, text, reference, responses, meta))
    sizes = sorted({len(p.responses) for p in problems})
    notes.append(f"{path.name}: flat layout, {sum(map(len, groups.values()))} responses of {len(problems)} problems "
                 f"({'/'.join(map(str, sizes))} each), joined by idx"
                 + (f" with {ref_path}" if refs is not None else ""))
    return problems


@register_importer(FORMAT)
def read(paths: list[Path], options: ImportOptions) -> Imported:
    ref_path = options.reference_data or shared_data("math500", "MATH500.jsonl")
    refs = load_reference(ref_path) if ref_path else None
    problems: list[Problem] = []
    notes: list[str] = []
    for path in paths:
        generator = options.generator or path.stem
        records = [Rec(value, path, line, prefix) for line, prefix, value in iter_records(path)]
        if records and _is_flat(records[0].data):
            problems += _read_flat(path, records, refs, ref_path, generator, notes)
            continue
        parsed = []
        for rec in records:
            field, _ = rec.first("question", "problem")
            parsed.append(_Parsed(rec, field, rec.text(field), _responses(rec)))
        if refs is not None:
            joined, how = _join(parsed, refs, ref_path)
            notes.append(f"{path.name}: joined {len(parsed)} problems with {ref_path} by {how}")
        for i, p in enumerate(parsed):
            rec = p.rec
            meta = {"generator": generator, "source": f"{path.name}:{rec.line}", "source_format": FORMAT}
            own_ref = rec.scalar("reference", required=False)
            if refs is not None:
                ref = refs[joined[i]]
                pid = ref.data["unique_id"]
                reference = ref.scalar("answer", required=False)
                if reference is None:
                    reference = own_ref
                for key in ("subject", "level"):
                    if key in ref.data:
                        meta[key] = ref.data[key]
            else:
                pid = rec.scalar("unique_id", "id", required=False) or str(i)
                reference = own_ref
            if reference is None:
                rec.fail("reference", "no reference answer in the record or the reference data",
                         "a 'reference' field, or --reference-data PATH to MATH500.jsonl")
            problems.append(Problem(pid, p.problem, reference, p.responses, meta))
    if refs is None:
        notes.append("no reference data (MATH500.jsonl) found: ids are the records' own ids or positions")
    return Imported(problems, notes=notes)
