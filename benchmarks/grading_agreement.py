"""How often does our grader agree with correctness labels that others published?

    python benchmarks/grading_agreement.py [--data ../shared/data] [--workers 1] [--timeout 5]
                                           [--out results/grading.md] [--dump disagreements.jsonl]

Sources (all under --data, read-only):
  ProcessBench gsm8k / math      `final_answer_correct`; response = the joined `steps`; references joined on the
                                 problem text with GSM8K test (after ####) / MATH train+test (last \\boxed of solution)
  ProcessBench olympiad/omnimath no reference answers in the files: counted, not graded
  GSM8K example solutions        `is_correct` of 4 GPT-3 solutions per test problem (solutions end "A: N")
  Qwen2.5-Math rm_maj pool       `score` per response; `pred` are their extracted answers, `gt` the reference
  OVM GSM8K samples              each output's `label`; `response_answer` is their extracted answer

Every source becomes a Pool and goes through harness.grading.grade_pool (verdict cache on, so re-runs are cheap).
Disagreements are put into classes by the rules in `classify` (written after reading them); the report lists each
class with its count and a real example. Writes results/grading.md.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.core.pool import Pool, Problem, Response  # noqa: E402
from harness.grading import find_answer, grade_pool_with_stats, is_equivalent  # noqa: E402
from harness.grading.deadline import DeadlineExceeded, deadline  # noqa: E402
from harness.grading.extract import last_boxed  # noqa: E402
from harness.grading.normalize import normalize_text  # noqa: E402


@dataclass
class Source:
    name: str
    pool: Pool
    labels: list[list[bool]]                     # theirs, per problem per response
    their_answers: list[list[str | None]] | None = None  # their extracted answers, where published
    fallback_number: bool = False
    notes: list[str] = field(default_factory=list)
    compare_math_verify: bool = False  # also measure math-verify on its own (parse the whole text, verify)


def _as_list(v):
    """Some releases store lists as Python-literal strings: read them without eval."""
    return ast.literal_eval(v) if isinstance(v, str) else v


def _norm_problem(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def processbench(data: Path, split: str, refs: dict[str, str], fallback_number: bool) -> Source:
    rows = json.loads((data / "processbench" / f"{split}.json").read_text(encoding="utf-8"))
    problems, labels, missing = [], [], 0
    for r in rows:
        ref = refs.get(_norm_problem(r["problem"]))
        if ref is None:
            missing += 1
            continue
        text = "\n\n".join(_as_list(r["steps"]))
        problems.append(Problem(r["id"], r["problem"], ref, [Response(text)], {"generator": r["generator"]}))
        labels.append([bool(r["final_answer_correct"])])
    src = Source(f"ProcessBench {split}", Pool(problems), labels, fallback_number=fallback_number,
                 compare_math_verify=True)
    src.notes.append(f"{len(rows)} rows, {len(problems)} joined to a reference on the problem text, "
                     f"{missing} without one")
    src.notes.append("their `final_answer_correct` comes with human step labels; ours is answer matching"
                     + (" (GSM8K-style: last number when no answer is stated)" if fallback_number else
                        " (no last-number fallback: MATH-style)"))
    return src


def gsm8k_refs(data: Path) -> dict[str, str]:
    return {_norm_problem(r["question"]): r["answer"].rsplit("####", 1)[1].strip().replace(",", "")
            for r in _read_jsonl(data / "gsm8k" / "test.jsonl")}


def math_refs(data: Path) -> dict[str, str]:
    out = {}
    for split in ("train", "test"):
        for r in _read_jsonl(data / "math_hendrycks" / f"math_{split}.jsonl"):
            ans = last_boxed(r["solution"])
            if ans is not None:
                out[_norm_problem(r["problem"])] = ans
    return out


def gsm8k_examples(data: Path) -> Source:
    refs = [r["answer"].rsplit("####", 1)[1].strip().replace(",", "")
            for r in _read_jsonl(data / "gsm8k" / "test.jsonl")]
    rows = _read_jsonl(data / "gsm8k" / "example_model_solutions.jsonl")
    models = ["6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"]
    problems, labels = [], []
    for i, (r, ref) in enumerate(zip(rows, refs)):
        problems.append(Problem(f"gsm8k-test-{i}", r["question"], ref,
                                [Response(r[m]["solution"], extra={"model": m}) for m in models]))
        labels.append([bool(r[m]["is_correct"]) for m in models])
    return Source("GSM8K example solutions", Pool(problems), labels, fallback_number=True,
                  notes=[f"{len(rows)} problems x {len(models)} models ({', '.join(models)})"])


def qwen_pool(data: Path) -> Source:
    rows = _read_jsonl(data / "qwen25math_rm_maj" / "math_cot_100.jsonl")
    problems, labels, theirs = [], [], []
    for r in rows:
        texts, preds, scores = _as_list(r["code"]), _as_list(r["pred"]), _as_list(r["score"])
        problems.append(Problem(str(r["idx"]), r["question"], str(r["gt"]), [Response(t) for t in texts]))
        labels.append([bool(s) for s in scores])
        theirs.append([None if p is None else str(p) for p in preds])
    return Source("Qwen2.5-Math rm_maj (MATH, 100x8)", Pool(problems), labels, theirs)


def ovm(data: Path) -> Source:
    problems, labels, theirs, files = [], [], [], sorted((data / "ovm_gsm8k_samples").glob("*.jsonl"))
    invalid = 0
    for f in files:
        for r in _read_jsonl(f):
            outs = _as_list(r["outputs"])
            problems.append(Problem(f"{f.stem}/{r['idx']}", r["question"], str(r["ground_truth"]),
                                    [Response(o["response"]) for o in outs], {"file": f.name}))
            # label is true/false, or the string "[invalid]" where they found no answer: not correct
            labels.append([o["label"] is True for o in outs])
            invalid += sum(o["label"] == "[invalid]" for o in outs)
            theirs.append([None if o.get("response_answer") is None else str(o["response_answer"]) for o in outs])
    return Source("OVM GSM8K samples", Pool(problems), labels, theirs, fallback_number=True,
                  notes=[f"{len(files)} files, {len(problems)} problem rows",
                         f"{invalid} outputs have label \"[invalid]\" (no answer found by them): counted as incorrect"])


def _same(a: str, b: str) -> bool:
    """Equivalence either way round, under a deadline (this runs in-process, outside the graded pools)."""
    try:
        with deadline(10):
            return is_equivalent(a, b) or is_equivalent(b, a)
    except DeadlineExceeded:
        return False


def classify(src: Source, p: Problem, r: Response, ours: bool, theirs: bool, their_answer: str | None) -> str:
    """The class of one disagreement. The rules were written after reading every disagreement of every source."""
    if r.answer is None:
        return "no stated answer (no \\boxed, no 'answer is'): we grade it wrong, their label (human) says right"
    if not ours and (find_answer(r.text, src.fallback_number).style or "") == "last":
        return ("no marked answer: the last expression, which we (and math-verify) take, is not the solution's "
                "answer; their label says right")
    if their_answer == "[invalid]":
        return "their extraction found no answer where ours did (e.g. lower-case 'the answer is 20')"
    if their_answer is not None and not _same(their_answer, r.answer):
        return "their extraction took a different answer (e.g. '400' from 'The answer is 400+60=460')"
    style = find_answer(r.text, src.fallback_number).style or ""
    if not ours and style.endswith("number"):
        return "answer stated in prose: the last number we took is not the one meant"
    if ours and not theirs:
        if normalize_text(r.answer) == normalize_text(p.reference):
            return "our answer is the reference itself; their label says wrong (a judgement of the solution)"
        return ("equal value written differently (unreduced fraction, decimal, ratio, identity, '10{,}000'); "
                "their label says wrong")
    return "we say not equal, their label says equal"


def math_verify_alone(src: Source) -> int:
    """How many responses math-verify on its own grades as their labels do: its default extraction of the whole
    response text, `verify(parse("\\boxed{reference}"), parse(text))`. Run here, on the main thread, where its own
    timeouts work."""
    from math_verify import parse, verify
    agree = 0
    for p, row in zip(src.pool.problems, src.labels):
        gold = parse("\\boxed{" + p.reference + "}")
        for r, theirs in zip(p.responses, row):
            agree += bool(verify(gold, parse(r.text))) == theirs
    return agree


def run_source(src: Source, workers: int, timeout: float, dump) -> dict:
    t0 = time.monotonic()
    graded, stats = grade_pool_with_stats(src.pool, workers=workers, timeout=timeout,
                                          extract_fallback_number=src.fallback_number)
    confusion = Counter()
    classes: dict[str, list] = defaultdict(list)
    for i, (p, their_row) in enumerate(zip(graded.problems, src.labels)):
        for j, (r, theirs) in enumerate(zip(p.responses, their_row)):
            ours = bool(r.correct)
            confusion[(ours, theirs)] += 1
            if ours != theirs:
                their_answer = src.their_answers[i][j] if src.their_answers else None
                cls = classify(src, p, r, ours, theirs, their_answer)
                item = {"source": src.name, "id": p.id, "reference": p.reference, "ours": ours, "theirs": theirs,
                        "our_answer": r.answer, "their_answer": their_answer, "class": cls,
                        "tail": r.text[-300:]}
                classes[cls].append(item)
                if dump:
                    dump.write(json.dumps(item, ensure_ascii=False) + "\n")
    if src.their_answers:
        pairs = [(r.answer, a) for p, row in zip(graded.problems, src.their_answers) for r, a in zip(p.responses, row)]
        same = sum(1 for ours_a, their_a in pairs
                   if (ours_a is None and their_a in (None, "", "[invalid]"))
                   or (ours_a is not None and their_a is not None and _same(their_a, ours_a)))
        src.notes.append(f"our extracted answer equals their published one for {same} of {len(pairs)} responses")
    n = sum(confusion.values())
    agree = confusion[(True, True)] + confusion[(False, False)]
    mv_agree = math_verify_alone(src) if src.compare_math_verify else None
    return {"name": src.name, "n": n, "agree": agree, "mv_agree": mv_agree, "confusion": confusion, "classes": classes, "stats": stats,
            "notes": src.notes, "seconds": time.monotonic() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=REPO / "results" / "grading.md")
    ap.add_argument("--dump", type=Path, default=None, help="write every disagreement as JSON Lines here")
    ap.add_argument("--only", default=None, help="comma-separated substrings of source names to run")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder {args.data} not found (expected ../shared/data beside the checkout)", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    gsm, mth = gsm8k_refs(args.data), math_refs(args.data)
    builders = [lambda: processbench(args.data, "gsm8k", gsm, True),
                lambda: processbench(args.data, "math", mth, False),
                lambda: gsm8k_examples(args.data), lambda: qwen_pool(args.data), lambda: ovm(args.data)]
    unref = {}
    for split in ("olympiadbench", "omnimath"):
        rows = json.loads((args.data / "processbench" / f"{split}.json").read_text(encoding="utf-8"))
        unref[split] = (len(rows), sorted(rows[0].keys()), sum(bool(r["final_answer_correct"]) for r in rows))
    results = []
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None
    try:
        for build in builders:
            src = build()
            if args.only and not any(s in src.name for s in args.only.split(",")):
                continue
            res = run_source(src, args.workers, args.timeout, dump)
            results.append(res)
            print(f"{res['name']}: n={res['n']} agreement {res['agree'] / res['n']:.2%} "
                  f"({res['seconds']:.1f} s, {res['stats'].computed} computed, {res['stats'].cache_hits} cached)",
                  flush=True)
    finally:
        if dump:
            dump.close()
    wall = time.monotonic() - t0
    cmd = "python benchmarks/grading_agreement.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    if not args.only:
        from harness.core.cache import write_text_atomic
        write_text_atomic(args.out, report(results, unref, cmd, wall, args))
        print(f"wrote {args.out} ({wall:.0f} s)")
    return 0


def _ids(items, most: int = 12) -> str:
    """Every id of a class (the first `most` of a large one): each disagreement can be looked up."""
    ids = [_md_escape(i["id"]) for i in items]
    return ", ".join(ids[:most]) + (f", … ({len(ids) - most} more)" if len(ids) > most else "")


def _md_escape(s) -> str:
    s = "—" if s is None else str(s)
    s = s.replace("\n", " ⏎ ").replace("|", "\\|")
    return s if len(s) <= 160 else s[:75] + " … " + s[-75:]


def report(results, unref, cmd, wall, args) -> str:
    from harness.grading import GRADER_VERSION
    computed = sum(r["stats"].computed for r in results)
    cached = sum(r["stats"].cache_hits for r in results)
    lines = ["# Grader agreement with published correctness labels", "",
             f"Written by `{cmd}` (grader {GRADER_VERSION}, {args.workers} worker process(es), "
             f"timeout {args.timeout:g} s). Wall time {wall:.0f} s: {computed} grading calls computed, {cached} reused "
             "from the verdict cache (answers shared between sources, or earlier runs).", "",
             "ours+/theirs- = we grade the response correct and their label says incorrect, and so on. "
             "Each disagreement class below is one line with its count and a real example.", "",
             "Grader bugs these comparisons found, fixed in harness/grading (each is a case in "
             "tests/grading/):",
             "",
             "- `\\boxed{\\15}`, a `\\$15` that lost its dollar sign, read as nothing (ProcessBench gsm8k-329)",
             "- a reference with unit words after an expression, `8\\sqrt{3} \\text { square inches}`, never matched "
             "(ProcessBench math-744)",
             "- GSM8K-style grading took the sentence `Verna received $7.00 in change` as the answer of "
             "`**Answer:** ...` instead of its number (ProcessBench gsm8k-299)",
             "- OVM's `label` is `\"[invalid]\"` (a truthy string) where they found no answer: this script first "
             "read it as correct",
             "- our extraction lost answers math-verify alone keeps (ProcessBench-math agreement was 960 of 1,000 "
             "with grader 164121674ea7, against math-verify's 985): a response with no box and no 'answer is' now "
             "gives its last expression (math-542 `\\(45\\)`, math-923 `**36**`); an answer stated as a sentence "
             "gives the expression in it (`Final Answer: The largest $n$ is 34.` -> 34); a 'final answer is' "
             "statement after the last box wins over it (math-835, math-644); boxes joined by 'and' or a short gap "
             "are one set, by math-verify's own rule (math-47); `2{,}5` is a decimal (tests/grading/test_extract.py)",
             "- what changed in the verdicts (tests/grading/test_verify.py): words compare as text (`listen` was equal "
             "to `silent`); an inequality equals its solution set whichever side is the reference; vote keys follow "
             "the verdicts (a percentage votes with its value, 0.0000001 apart from 0)", "",
             "| source | n | agreement | agree (ours) | agree (math-verify alone) | ours+ theirs+ | ours+ theirs- | "
             "ours- theirs+ | ours- theirs- | computed | cached | timeouts | s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        c, s = r["confusion"], r["stats"]
        mv = "—" if r["mv_agree"] is None else r["mv_agree"]
        lines.append(f"| {r['name']} | {r['n']} | {r['agree'] / r['n']:.2%} | {r['agree']} | {mv} | "
                     f"{c[(True, True)]} | {c[(True, False)]} | "
                     f"{c[(False, True)]} | {c[(False, False)]} | {s.computed} | {s.cache_hits} | {s.timeouts} | "
                     f"{r['seconds']:.1f} |")
    lines += ["", "ProcessBench olympiadbench / omnimath are not graded: their files carry no reference answer "
              "(fields: " + ", ".join(next(iter(unref.values()))[1]) + ") and none is in ../shared/data.",
              ""]
    for split, (n, _, pos) in unref.items():
        lines.append(f"- {split}: {n} rows, {pos} labelled final_answer_correct")
    lines.append("")
    for r in results:
        lines += [f"## {r['name']}", ""] + [f"- {n}" for n in r["notes"]] + [""] * bool(r["notes"])
        if not r["classes"]:
            lines += ["No disagreements.", ""]
            continue
        lines += ["| class | count | ours / theirs | example: id, reference, our answer, their answer, text tail | ids |",
                  "|---|---:|---|---|---|"]
        for cls, items in sorted(r["classes"].items(), key=lambda kv: -len(kv[1])):
            flips = Counter(("+" if i["ours"] else "-") + "/" + ("+" if i["theirs"] else "-") for i in items)
            ex = items[0]
            lines.append(f"| {cls} | {len(items)} | {', '.join(f'{k} {v}' for k, v in flips.most_common())} | "
                         f"`{_md_escape(ex['id'])}` ref `{_md_escape(ex['reference'])}`, ours "
                         f"`{_md_escape(ex['our_answer'])}`, theirs `{_md_escape(ex['their_answer'])}`: "
                         f"{_md_escape(ex['tail'][-150:])} | {_ids(items)} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
