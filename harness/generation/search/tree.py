"""Beam search, DVTS and plain sampling over a batch of problems, one step (up to a blank line) at a time.

The algorithms are search-and-learn's (huggingface/search-and-learn, src/sal/search/), with N the number of
solutions a problem gets and M (`expand`, their `beam_width`, "m" in Snell et al. 2024) the continuations of each
kept partial solution:

- beam: N chains write a first step; at each depth the unfinished partial solutions are ranked by the guide's score
  of the prefix, the best ceil(R / M) are kept and each continues M ways (R continuations in all). search-and-learn
  refills its active set to N after chains finish and keeps the first N finished; here the R = N - finished slots
  left are refilled, so a problem gets exactly N solutions and about N samples' tokens, and M = 1 is plain sampling.
- dvts: N / M independent subtrees; each writes M continuations of its current path, keeps the best one and goes
  on (a continuation that finishes without being the best is dropped, as in search-and-learn); when the best one is
  finished, the subtree's M continuations of that depth are its solutions. Unlike search-and-learn, whose subtree
  returns its unfinished continuations as they are (partial texts without an answer) unless its 40-iteration cap
  was reached, here they are sampled on to their end without the guide, so every solution is complete; there is
  no iteration cap and no stop at "boxed{".
- sample: N chains to the end, no guide: what best-of-N selects from.

At N = M beam search and DVTS both keep one path and continue it M ways with the same random streams, so they
write the same solutions until some, not all, continuations of one depth finish: beam then keeps the finished ones
as solutions and continues its best unfinished one as many ways as slots remain, while DVTS drops finished
continuations that are not its best, or, when its best finished, samples two or more unfinished siblings to their
end (with one, both write the same). In the arith world, continuations of one prefix nearly always finish at the
same depth: at N = M = 4 the two wrote the same solutions on 199 of 200 test problems (mid and weak, an untrained
implicit PRM as guide).

Steps end at a blank line ("\\n\\n", kept in the step) or at eos; a chain ends at eos or at max_new_tokens. Every
chain's tokens are drawn with its own counter-based stream (draws.py), so results depend on the seed, not on
batching, and the guide's scores are deterministic given the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from harness.core.errors import InputError
from harness.core.prompting import build_prompt
from harness.generation.search import draws
from harness.generation.search.draws import child_key, sample_tokens

METHODS = ("beam", "dvts", "sample")


@dataclass(frozen=True)
class SearchConfig:
    method: str = "beam"
    n: int = 16
    expand: int = 4
    temperature: float = 0.5
    max_new_tokens: int = 200
    seed: int = 0

    def validate(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown search method '{self.method}'", field="--method",
                             expected="one of " + ", ".join(METHODS))
        if self.n < 1 or self.expand < 1:
            raise InputError("n and expand must be positive", field="--n/--expand", expected=">= 1")
        if self.method == "dvts" and self.n % self.expand:
            raise InputError(f"dvts needs N divisible by M (N = {self.n}, M = {self.expand})", field="--expand",
                             expected="a divisor of every N")
        if self.temperature <= 0:
            raise InputError("temperature must be positive", field="--temperature", expected="> 0")

    def expansions(self) -> int:
        return 1 if self.method == "sample" else min(self.expand, self.n)


@dataclass
class Chain:
    key: int
    problem: int                                       # index in the batch
    subtree: int = 0
    tokens: list[int] = field(default_factory=list)    # generated tokens (eos included when it was drawn)
    ends: list[int] = field(default_factory=list)      # token count at the end of each search step
    scores: list[float] = field(default_factory=list)  # the guide's score after each step
    values: list = field(default_factory=list)         # incremental guides: each step's per-token rewards
    finished: bool = False
    truncated: bool = False
    completing: bool = False                           # dvts: a sibling sampled to its end, not searched

    def text_tokens(self) -> list[int]:
        """The tokens of the response text (a drawn eos is not text)."""
        return self.tokens[:-1] if self.finished and not self.truncated else self.tokens

    def fork(self, key: int) -> "Chain":
        return Chain(key, self.problem, self.subtree, list(self.tokens), list(self.ends), list(self.scores),
                     list(self.values))


class StopTable:
    """Which tokens end a step: one whose text holds a blank line, or a newline after a newline-ended token."""

    def __init__(self, tokenizer):
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
        texts = [tokenizer.decode([i]) for i in range(len(tokenizer))]
        self.has_blank = torch.tensor(["\n\n" in t for t in texts])
        self.starts_nl = torch.tensor([t.startswith("\n") for t in texts])
        self.ends_nl = torch.tensor([t.endswith("\n") for t in texts])


def search_batch(model, tokenizer, problems: list, cfg: SearchConfig, guide=None, stop: StopTable | None = None):
    """Solutions of each problem (`problems`: objects with .id, .problem, .reference) and per-problem counts.

    Returns (finished chains per problem, stats per problem: generated, prompt and guide tokens, guide FLOPs)."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    with torch.inference_mode():
        return _search(model, tokenizer, problems, cfg, guide, stop)


def _search(model, tokenizer, problems, cfg, guide, stop):
    # lazy: torch costs ~2 s at import; light commands must not pay it
    import torch

    from harness.generation import fast_decode
    from harness.generation.search.rows import RowCache, pad_block
    cfg.validate()
    if cfg.method != "sample" and guide is None:
        raise InputError(f"{cfg.method} needs a reward model to guide it", field="--rm")
    if not fast_decode.supports(model):
        raise InputError("search decodes with harness.generation.fast_decode: a plain Llama model in float32 on "
                         "the CPU",
                         field="generator", expected="such a model (the arith world's generators are)")
    dec = fast_decode.LlamaDecoder(model)
    stop = stop or StopTable(tokenizer)
    prompts = [tokenizer(build_prompt(tokenizer, p.problem), add_special_tokens=False)["input_ids"]
               for p in problems]
    cache = RowCache(dec, len(problems))
    cache.extend(*pad_block(prompts))
    state = guide.open(problems, prompts, tokenizer) if guide is not None and cfg.method != "sample" else None
    M = cfg.expansions()
    chains = []
    for i, p in enumerate(problems):
        for c in range(cfg.n):
            chains.append(Chain(draws.root_key(cfg.seed, p.id, c), i, c // M if cfg.method == "dvts" else c))
    first = [c.problem for c in chains]
    cache = cache.select(torch.tensor(first))
    if state is not None:
        state.select(first)
    done: list[list[Chain]] = [[] for _ in problems]
    generated = np.zeros(len(problems), dtype=np.int64)
    depth = 0
    while chains:
        to_end = np.array([cfg.method == "sample" or c.completing for c in chains])
        new = _write_step(dec, cache, chains, cfg, stop, tokenizer.eos_token_id, to_end)
        for c, toks in zip(chains, new):
            generated[c.problem] += len(toks)
        if state is not None:
            scores = state.advance(new, chains)
            for c, s in zip(chains, scores):
                c.scores.append(float(s))
            for c, v in zip(chains, getattr(state, "token_values", ())):
                c.values.append(v)
        rows, keys = _next_rows(chains, cfg, M, depth, done)
        if not rows:
            break
        nxt = []
        for r, k in zip(rows, keys):
            child = chains[r].fork(chains[r].key if k is None else k)
            child.completing = chains[r].completing or k is None
            nxt.append(child)
        idx = torch.tensor(rows, dtype=torch.long)
        cache = cache.select(idx)
        if state is not None:
            state.select(rows)
        chains = nxt
        depth += 1
    stats = [{"generated_tokens": int(generated[i]), "prompt_tokens": len(prompts[i]),
              **(state.problem_cost(i) if state is not None else {})} for i in range(len(problems))]
    return done, stats


def _write_step(dec, cache, chains, cfg: SearchConfig, stop: StopTable, eos_id: int, to_end: np.ndarray):
    """Each row writes one step (rows with to_end: the rest of the response); tokens per row. Marks chains that
    end (eos, or max_new_tokens: truncated) and appends the step end to every chain."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    R = len(chains)
    keys = np.array([c.key for c in chains], dtype=np.uint64)
    counts = np.array([len(c.tokens) for c in chains], dtype=np.int64)
    out: list[list[int]] = [[] for _ in range(R)]
    active = torch.ones(R, dtype=torch.bool)
    prev_nl = torch.zeros(R, dtype=torch.bool)
    whole = torch.from_numpy(to_end)
    logits = cache.logits()
    while True:
        tok = sample_tokens(logits, cfg.temperature, keys, counts)
        act = active.numpy()
        for i in np.flatnonzero(act):
            out[i].append(int(tok[i]))
        counts[act] += 1
        eos = tok == eos_id
        step_end = (stop.has_blank[tok] | (prev_nl & stop.starts_nl[tok])) & ~whole
        prev_nl = stop.ends_nl[tok]
        ended = active & (eos | torch.from_numpy(counts >= cfg.max_new_tokens))
        for i in np.flatnonzero(ended.numpy()):
            chains[i].finished = True
            chains[i].truncated = not bool(eos[i])
        feed = active & ~ended
        active = feed & ~step_end
        if bool(feed.any()):
            cache.extend(tok.unsqueeze(1), feed.long())
        if not bool(active.any()):
            break
        logits = cache.logits()
    for c, toks in zip(chains, out):
        c.tokens.extend(toks)
        c.ends.append(len(c.tokens))
    return out


def _next_rows(chains: list[Chain], cfg: SearchConfig, M: int, depth: int, done: list[list[Chain]]):
    """Rows to continue and their keys (None: continue a completing chain as it is); finished solutions go to
    `done`."""
    rows: list[int] = []
    keys: list[int | None] = []
    by_problem: dict[int, list[int]] = {}
    for i, c in enumerate(chains):
        by_problem.setdefault(c.problem, []).append(i)
    for p, idx in by_problem.items():
        if cfg.method in ("beam", "sample"):
            for i in idx:
                if chains[i].finished:
                    done[p].append(chains[i])
            alive = [i for i in idx if not chains[i].finished]
            if not alive:
                continue
            if cfg.method == "sample":
                rows += alive
                keys += [chains[i].key for i in alive]
                continue
            k = math.ceil(len(alive) / M)
            ranked = sorted(alive, key=lambda i: (-chains[i].scores[-1], i))[:k]
            children = [(i, j) for i in ranked for j in range(M)][:len(alive)]
            rows += [i for i, _ in children]
            keys += [child_key(chains[i].key, depth, j) for i, j in children]
        else:
            _dvts_rows(chains, idx, M, depth, done[p], rows, keys)
    return rows, keys


def _dvts_rows(chains, idx, M, depth, done_p, rows, keys) -> None:
    subtrees: dict[int, list[int]] = {}
    for i in idx:
        subtrees.setdefault(chains[i].subtree, []).append(i)
    for members in subtrees.values():
        _settle(chains, [i for i in members if chains[i].completing], done_p, rows, keys)
        searching = [i for i in members if not chains[i].completing]
        if not searching:
            continue
        best = sorted(searching, key=lambda i: (-chains[i].scores[-1], i))[0]
        if chains[best].finished:  # the subtree ends: this depth's continuations are its solutions
            _settle(chains, searching, done_p, rows, keys)
            continue
        rows += [best] * M
        keys += [child_key(chains[best].key, depth, j) for j in range(M)]


def _settle(chains, members, done_p, rows, keys) -> None:
    """Finished chains become solutions; the others are sampled on to their end (key None: as they are)."""
    for i in members:
        if chains[i].finished:
            done_p.append(chains[i])
        else:
            rows.append(i)
            keys.append(None)
