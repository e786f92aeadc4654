"""OVM's sampled GSM8K completions (FreedomIntelligence/OVM, data/gsm8k/model_generation/*.jsonl).

One problem a line: idx (the GSM8K line index), question, ground_truth, outputs[{response, response_answer, label}].
Files are named <split>_responses_n<K>_<generator>_samples.jsonl; the generator (e.g. mistral7b-ep2) and split come
from the name, and ids are "<split>/<idx>", the same as the gsm8k task's, so the two can be joined.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.core.errors import InputError
from harness.core.pool import Problem, Response
from harness.importers import Imported, ImportOptions, register_importer
from harness.importers._common import Rec, as_label, iter_jsonl

FORMAT = "ovm"
# OVM writes "[invalid]" as both answer and label of a completion with no final answer (cut off mid-way): no
# answer, and incorrect, as OVM's own accuracy counts it. The original label is kept on the response.
INVALID = "[invalid]"
_NAME = re.compile(r"^(?P<split>train|test)_responses_n\d+_(?P<generator>.+?)_samples$")


@register_importer(FORMAT)
def read(paths: list[Path], options: ImportOptions) -> Imported:
    if len(paths) != 1:
        raise InputError(f"{FORMAT} takes one FILE: each file is one generator's pool", expected="one FILE")
    path = paths[0]
    m = _NAME.match(path.stem)
    generator = options.generator or (m.group("generator") if m else path.stem)
    split = m.group("split") if m else None
    problems, n_invalid = [], 0
    for i, (line, value) in enumerate(iter_jsonl(path)):
        rec = Rec(value, path, line)
        # The question ends with the prompt's newline; the problem itself does not.
        question = rec.text("question").strip()
        reference = rec.scalar("ground_truth")
        _, outputs = rec.listing("outputs")
        if not outputs:
            rec.fail("outputs", "no responses", "at least one output")
        responses = []
        for j, out in enumerate(outputs):
            sub = Rec(out, path, line, f"outputs[{j}].") if isinstance(out, dict) else None
            if sub is None:
                rec.fail(f"outputs[{j}]", f"wrong type {type(out).__name__}", "an object with 'response'")
            answer, label = out.get("response_answer"), out.get("label")
            if label == INVALID:
                n_invalid += 1
                responses.append(Response(sub.text("response"), None, False, {"source_label": INVALID}))
                continue
            if answer == INVALID:
                answer = None
            else:
                answer = sub.scalar("response_answer", required=False)
            responses.append(Response(sub.text("response"), answer, as_label(label, sub, "label")))
        idx = rec.data.get("idx", i)
        if isinstance(idx, bool) or not isinstance(idx, (int, str)):
            rec.fail("idx", f"wrong type {type(idx).__name__}", "an integer")
        pid = f"{split}/{idx}" if split else str(idx)
        meta = {"generator": generator, "source": f"{path.name}:{line}", "source_format": FORMAT}
        if split:
            meta["split"] = split
        problems.append(Problem(pid, question, reference, responses, meta))
    notes = [f"{n_invalid} responses labelled '{INVALID}' (no final answer) imported as incorrect"] if n_invalid else []
    return Imported(problems, notes=notes)
