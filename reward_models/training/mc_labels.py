"""Math-Shepherd step labels by Monte-Carlo rollouts (Wang et al. 2024).

For every response of an RM-training pool and every step prefix of it (the text up to the end of step t, separator
included, so the policy goes on with the next step), K completions are sampled from the policy that wrote the
responses and graded against the reference:

    hard label = any completion correct        (Math-Shepherd's HE estimate)
    soft label = fraction of completions correct   (its SE estimate)

The last step needs no rollout: the prefix is the whole response, so its label is the response's own correctness
(k = 0 in the stored counts). Every generated token is counted (eos included) for the compute accounting.

Cache: <cache>/mc_labels/<key>.jsonl, the key hashing the policy fingerprint, the pool's content hash and grades,
K, temperature, max_new_tokens, seed, grader and chunk size. Line 1 is {"meta": ...}; then one line per problem:
{"id", "responses": [{"hard": [...], "soft": [...], "n_correct": [...], "k": [...]}]}, one entry per step.
Work is done in chunks of problems, each stored under <key>.chunks/ and drawing from its own seeded generator,
so an interrupted labelling resumes at the first missing chunk and gives the same labels as an uninterrupted one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from harness.core import cache, jobs
from harness.core.chunks import plan_chunks
from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from harness.core.pool import Pool
from harness.core.steps import step_spans
from reward_models.lm.loading import load_causal_lm
from reward_models.lm.logprobs import prompt_format_id
from tasks import pool_task

MC_VERSION = 1
Grader = Callable[[str, str], bool]


class Sampler(Protocol):
    def __call__(self, problems: list[str], prefixes: list[str], k: int, seed: int, stats: dict) -> list[list[str]]:
        """k continuations of each (problem, prefix); adds "generated_tokens"/"prompt_tokens" to stats."""


@dataclass
class MCLabels:
    # [problem][response] -> per-step lists
    hard: list[list[list[bool]]]
    soft: list[list[list[float]]]
    n_correct: list[list[list[int]]]
    k: list[list[list[int]]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def generated_tokens(self) -> int:
        return int(self.meta.get("generated_tokens", 0))


def step_prefixes(text: str) -> list[str]:
    """The text up to the end of every step but the last (separators included)."""
    return [text[:b] for _, b in step_spans(text)[:-1]]


def labels_from_outcomes(outcomes: list[bool]) -> tuple[bool, float]:
    """(hard, soft) label of one step from the correctness of its K completions."""
    if not outcomes:
        raise ValueError("no completions to label a step from")
    return any(outcomes), sum(map(bool, outcomes)) / len(outcomes)


def pool_grader(pool) -> tuple[str, Grader]:
    """(name, is_correct) of the grader of the pool's task (tasks.pool_task: arith's exact integer grader for the
    arith world's pools, MATH's math-verify grader for pools of no task); the name keys the labels' cache."""
    task = pool_task(pool)
    return task.grader_name, task.is_correct


def policy_sampler(policy_path, *, temperature: float, max_new_tokens: int, dtype: str = "float32",
                   device: str = "cpu", batch_rows: int = 1024, load: Callable[[], tuple] | None = None) -> Sampler:
    """Samples continuations from a causal LM folder; the model is loaded at the first call (not on a cache hit)."""
    loaded: list = []

    def sample(problems, prefixes, k, seed, stats):
        # lazy: harness.generation.sampling imports torch at load
        from harness.generation.sampling import sample_responses
        if not loaded:
            if load is not None:
                loaded.extend(load())
            else:
                loaded.extend(load_causal_lm(policy_path, dtype=dtype, device=device))
            if loaded[1].pad_token_id is None:
                loaded[1].pad_token = loaded[1].eos_token
        model, tok = loaded
        return sample_responses(model, tok, problems, k, temperature=temperature, max_new_tokens=max_new_tokens,
                                seed=seed, batch_rows=batch_rows, prefixes=prefixes, stats=stats)
    return sample


def mc_key(pool, identity: dict[str, Any], k: int, seed: int, chunk_problems: int) -> str:
    return cache.stable_hash({"version": MC_VERSION, "pool": [pool.content_hash(), pool.grades_hash()],
                              "identity": identity, "k": k, "seed": seed, "chunk_problems": chunk_problems})


def mc_label_pool(pool, sampler: Sampler, grader: Grader, *, identity: dict[str, Any], k: int = 8, seed: int = 0,
                  chunk_problems: int = 8, progress: bool = True) -> MCLabels:
    """Label every step of every response of a graded pool (cached, resumable; see the module docstring).

    identity: everything that determines the samples besides the pool, K and seed (policy fingerprint,
    temperature, max_new_tokens, grader name): it keys the cache.
    """
    if k < 1:
        raise InputError("K must be at least 1", field="k", expected="an integer >= 1")
    if chunk_problems < 1:
        raise InputError("chunk size must be positive", field="chunk_problems", expected=">= 1")
    for p in pool.problems:
        for j, r in enumerate(p.responses):
            if r.correct is None:
                raise InputError("MC labelling needs a graded pool (the last step's label is the outcome)",
                                 file=pool.path, field=f"problem {p.id} responses[{j}].correct",
                                 expected="true/false (run `grade` first)")
    key = mc_key(pool, identity, k, seed, chunk_problems)
    path = cache.root() / "mc_labels" / f"{key}.jsonl"
    if path.is_file():
        return read_labels(path, pool)
    spans = plan_chunks(len(pool.problems), chunk_problems)
    job = jobs.ChunkedJob(label="[MC step labels]", spans=spans, keys=[key] * len(spans), product=str(path),
                          store=_LabelChunks(path.parent / f"{key}.chunks"), bar="MC step labels" if progress else "")

    def compute(span: tuple[int, int]) -> dict:
        return _label_chunk(pool.problems[span[0]:span[1]], sampler, grader, k, seed * 1_000_003 + span[0])
    # one process: labelling runs inside training, never split across ranks
    return jobs.run(job, lambda: compute, lambda chunks: _write_labels(path, pool, key, k, seed, identity, chunks))


def _write_labels(path: Path, pool, key: str, k: int, seed: int, identity: dict, chunks: list[dict]) -> MCLabels:
    n = len(pool.problems)
    stats = {s: sum(c["stats"].get(s, 0) for c in chunks) for s in ("generated_tokens", "prompt_tokens", "rollouts")}
    rows = [row for c in chunks for row in c["problems"]]
    meta = {"key": key, "k": k, "seed": seed, "identity": identity, "pool_hash": pool.content_hash(),
            "problems": n, "responses": pool.n_responses, "steps": sum(len(r["hard"]) for p in rows
                                                                       for r in p["responses"]), **stats}
    text = json.dumps({"meta": meta}, sort_keys=True) + "\n" + "".join(json.dumps(r) + "\n" for r in rows)
    cache.write_text_atomic(path, text)
    return read_labels(path, pool)


class _LabelChunks:
    """The job's store in this module's own chunk files, <start>.json without a checksum (a damaged one fails to
    parse and is labelled again), so chunks of a labelling interrupted before the shared engine still resume."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, span: tuple[int, int]) -> Path:
        return self.folder / f"{span[0]:06d}.json"

    def load(self, span: tuple[int, int], key: str) -> dict | None:
        try:
            return cache.read_json(self._path(span)) if self._path(span).is_file() else None
        except (OSError, ValueError):
            return None

    def save(self, span: tuple[int, int], key: str, value: dict) -> None:
        cache.write_json_atomic(self._path(span), value)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _label_chunk(problems, sampler: Sampler, grader: Grader, k: int, seed: int) -> dict:
    jobs = []  # (problem index in chunk, response index, step index, prefix)
    for i, p in enumerate(problems):
        for j, r in enumerate(p.responses):
            jobs += [(i, j, t, pre) for t, pre in enumerate(step_prefixes(r.text))]
    stats: dict = {"generated_tokens": 0, "prompt_tokens": 0, "rollouts": len(jobs) * k}
    outs = sampler([problems[i].problem for i, *_ in jobs], [pre for *_, pre in jobs], k, seed, stats) if jobs else []
    if len(outs) != len(jobs) or any(len(o) != k for o in outs):
        raise RuntimeError(f"sampler returned {len(outs)} lists for {len(jobs)} prefixes (want {k} each)")
    correct = {}
    for (i, j, t, pre), conts in zip(jobs, outs):
        correct[i, j, t] = [bool(grader(pre + c, problems[i].reference)) for c in conts]
    rows = []
    for i, p in enumerate(problems):
        resps = []
        for j, r in enumerate(p.responses):
            n_steps = len(step_spans(r.text))
            hard, soft, nc, ks = [], [], [], []
            for t in range(n_steps - 1):
                h, s = labels_from_outcomes(correct[i, j, t])
                hard.append(h)
                soft.append(s)
                nc.append(sum(correct[i, j, t]))
                ks.append(k)
            hard.append(bool(r.correct))  # the whole response: its own outcome
            soft.append(float(bool(r.correct)))
            nc.append(int(bool(r.correct)))
            ks.append(0)
            resps.append({"hard": hard, "soft": soft, "n_correct": nc, "k": ks})
        rows.append({"id": p.id, "responses": resps})
    return {"stats": stats, "problems": rows}


def read_labels(path: str | Path, pool=None) -> MCLabels:
    """Load a labels file; with `pool`, check that it labels exactly that pool's responses and steps."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        meta = json.loads(lines[0])["meta"]
        rows = [json.loads(x) for x in lines[1:] if x.strip()]
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise InputError(f"damaged MC label file ({e}); delete it to relabel", file=path) from None
    if pool is not None:
        if [r["id"] for r in rows] != [p.id for p in pool.problems]:
            raise InputError("MC labels are for other problems than the pool", file=path)
        for line, (row, p) in enumerate(zip(rows, pool.problems), start=2):
            counts = [len(step_spans(r.text)) for r in p.responses]
            if [len(r["hard"]) for r in row["responses"]] != counts:
                raise InputError("MC labels do not match the pool's responses/steps", file=path, line=line)
    get = lambda name: [[r[name] for r in row["responses"]] for row in rows]  # noqa: E731
    return MCLabels(get("hard"), get("soft"), get("n_correct"), get("k"), meta)


def subset_pool(pool, max_instructions: int | None):
    """The first `max_instructions` problems (MC labelling costs K rollouts per step, so a subset is often enough)."""
    if max_instructions is None or max_instructions >= len(pool.problems):
        return pool
    if max_instructions < 1:
        raise InputError("must be at least 1", field="max_instructions", expected="an integer >= 1 or none")
    return Pool(pool.problems[:max_instructions], pool.path)


def pool_temperature(pool, default: float = 0.5) -> float:
    """The temperature the pool was sampled at (its meta), so completions come from the same distribution."""
    temps = {p.meta.get("temperature") for p in pool.problems} - {None}
    return float(temps.pop()) if len(temps) == 1 else default


def policy_identity(policy_path, pool, *, temperature: float, max_new_tokens: int, dtype: str,
                    grader_name: str) -> dict[str, Any]:
    return {"policy": fingerprint(policy_path), "temperature": temperature, "max_new_tokens": max_new_tokens,
            "dtype": dtype, "grader": grader_name, "prompt_format": prompt_format_id()}


def label_with_policy(policy_path, pool, *, k: int = 8, temperature: float = 0.5, max_new_tokens: int = 200,
                      seed: int = 0, grader: tuple[str, Grader] | None = None, dtype: str = "float32",
                      device: str = "cpu", batch_rows: int = 1024, chunk_problems: int = 8,
                      progress: bool = True) -> MCLabels:
    """MC labels of `pool` with completions from the causal LM at `policy_path` (the pool's own generator)."""
    name, fn = grader or pool_grader(pool)
    identity = policy_identity(policy_path, pool, temperature=temperature, max_new_tokens=max_new_tokens,
                               dtype=dtype, grader_name=name)
    sampler = policy_sampler(policy_path, temperature=temperature, max_new_tokens=max_new_tokens, dtype=dtype,
                             device=device, batch_rows=batch_rows)
    return mc_label_pool(pool, sampler, fn, identity=identity, k=k, seed=seed, chunk_problems=chunk_problems,
                         progress=progress)
