"""`harness import --format FORMAT FILE... -o POOL`: bring pools made elsewhere into the pool format.

Everything is read and checked first; only then is the pool written (atomically), followed by any score sets the
source carries (keyed by the pool's content hash). Bad input writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from harness.cli import arguments, command
from harness.commands.validate import summarize
from harness.core.errors import InputError
from harness.core.pool import Pool, parse_record, save_pool
from harness.core.scores import ScoreSet, check_matches, save_scores
from harness.importers import IMPORTERS, ImportOptions


def _add(p):
    p.add_argument("--format", required=True, metavar="FORMAT",
                   help="input format: " + ", ".join(IMPORTERS.names()))
    p.add_argument("files", nargs="+", metavar="FILE", help="input file(s); several are merged into one pool")
    p.add_argument("-o", "--output", required=True, metavar="POOL", help="pool file to write (JSON Lines)")
    p.add_argument("--reference-data", default=None, metavar="PATH",
                   help="MATH-style JSONL (problem, answer, unique_id) to join problems with: implicitprm takes "
                        "ids and references from it (default ../shared/data/math500/MATH500.jsonl when present); "
                        "qwen-rm-maj takes MATH unique_ids from it instead of the file's idx")
    p.add_argument("--generator", default=None, metavar="NAME", help="generator name (default: from the file)")


def _check_unique(problems) -> None:
    seen: dict[str, str] = {}
    for p in problems:
        src = str(p.meta.get("source", "input"))
        if p.id in seen:
            raise InputError(f"duplicate id '{p.id}' (first at {seen[p.id]})", file=src, field="id",
                             expected="unique ids: one generator's problems per pool")
        seen[p.id] = src


@command("import", "bring pools made elsewhere (implicitprm, lm-eval, qwen-rm-maj, ovm, pool) into the pool format")
@arguments(_add)
def run(args) -> int:
    importer = IMPORTERS.get(args.format)
    out = Path(args.output)
    if out.is_dir():
        raise InputError("is a folder", file=out, field="-o", expected="a pool file path")
    ref = Path(args.reference_data) if args.reference_data else None
    if ref is not None and not ref.is_file():
        raise InputError("file not found", file=ref, field="--reference-data")
    imported = importer([Path(f) for f in args.files], ImportOptions(ref, args.generator))
    if args.generator:
        for p in imported.problems:
            p.meta["generator"] = args.generator
    _check_unique(imported.problems)
    # What an importer built must read back as a pool: check it the way load_pool will.
    for i, p in enumerate(imported.problems, start=1):
        parse_record(p.to_dict(), out, i)
    pool = Pool(imported.problems)
    score_sets = [ScoreSet(s.rm, pool.content_hash(), s.step_scores, s.meta) for s in imported.scores]
    for ss in score_sets:
        check_matches(ss, pool)
    save_pool(pool, out)
    print(f"imported {args.format} {', '.join(args.files)} -> {out}")
    print(f"  {summarize(pool)}")
    for ss in score_sets:
        path = save_scores(ss)
        print(f"  score set '{ss.rm}' ({ss.meta.get('kind', 'scores')}, one step per response) -> {path}")
    for note in imported.notes:
        print(f"  note: {note}")
    return 0
