"""The score of a partial solution, which the search ranks by.

IncrementalGuide: an implicit PRM's q_t = beta * sum over the prefix's tokens of log pi_theta / pi_ref (or, with no
reference, loglik's sum of log pi). Each model keeps the key/value cache of every partial solution (rows.RowCache);
a new step runs only its own tokens, and the log-probs are summed in float64, so q_t after each step is the
running sum of the implicit PRM's step rewards of the finished response (tests/flow/test_search.py checks it to 1e-5).

RescoreGuide: any registered reward model, by re-scoring every prefix (its compute_prefix_scores on a pool of
prefixes) and aggregating its step scores ("last" by default: a PRM's judgement of the newest step,
search-and-learn's default; "sum" for implicit PRMs and loglik). It costs a forward of the whole prefix at every
depth. An unfinished prefix is scored as a prefix: the implicit PRMs and loglik append no eos to it (a chain that
drew its eos is scored with it, as the incremental guide counts it), so their summed step rewards are q_t of the
prefix, the incremental guide's number (tests/flow/test_search.py checks it to 1e-5). Adapters without an
end-of-response mark (the step-tag PRMs, released PRMs) score a prefix as they score any response; the ORM still
reads its value head after an appended eos, the position it was trained at.
"""

from __future__ import annotations

import numpy as np

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from harness.core.scores import AGGREGATIONS, ScoreSet
from harness.core.steps import step_spans
from reward_models.baselines import LoglikRM
from reward_models.implicit import ImplicitPRM
from reward_models.lm.loading import check_same_tokenizer, load_causal_lm, load_tokenizer


class IncrementalGuide:
    """q of every partial solution from key/value caches of the policy (and reference)."""

    incremental = True

    def __init__(self, policy: str, ref: str | None, scale: float, generator_tokenizer, label: str,
                 reward: str | None = None):
        """reward: "single" or "accumulative" when the reward model's own step scores are these passes' per-step
        sums (float32, no max_len), so the search can hand them over (step_scores); None otherwise."""
        from harness.generation import fast_decode  # lazy: harness.generation.fast_decode imports torch at load
        self.label, self.scale, self.reward = label, float(scale), reward
        self.models = []
        for path in [policy] + ([ref] if ref else []):
            model, tok = load_causal_lm(path, dtype="float32", device="cpu")
            if not fast_decode.supports(model):
                raise InputError("incremental q_t needs a plain Llama model in float32 on the CPU", file=path,
                                 expected="such a model, or --set guide=rescore")
            rm_tok = load_tokenizer(path)
            check_same_tokenizer(generator_tokenizer, rm_tok, ("generator", "reward model"))
            if getattr(rm_tok, "chat_template", None) != getattr(generator_tokenizer, "chat_template", None):
                raise InputError("the reward model's chat template differs from the generator's", file=path,
                                 expected="the generator's prompt format (else --guide rescore)")
            self.models.append(fast_decode.LlamaDecoder(model))
        self.params = [sum(p.numel() for p in d.m.parameters()) + (0 if d.cfg.tie_word_embeddings
                                                                  else d.lm_head.weight.numel())
                       for d in self.models]
        self.weights = [1.0] + [-1.0] * (len(self.models) - 1)  # policy minus reference

    def open(self, problems, prompt_ids: list[list[int]], tokenizer=None) -> "_IncrementalState":
        return _IncrementalState(self, prompt_ids)

    def step_scores(self, tokenizer, text: str, chain) -> list[float] | None:
        """The reward model's step scores of a finished response from the search's own passes: each token's
        reward summed into the harness's step of its first character, eos into the last step (as
        reward_models.lm.logprobs.encode_pool attributes them). None when they would not be the same numbers: a
        truncated response (ordinary scoring appends an eos it never drew) or one whose text re-tokenizes to
        other ids."""
        if self.reward is None or not chain.finished or chain.truncated or not chain.values:
            return None
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        if enc["input_ids"] != chain.text_tokens():
            return None
        vals = np.concatenate(chain.values)
        spans = step_spans(text)
        starts = np.array([a for a, _ in spans])
        tok_starts = np.array([o[0] for o in enc["offset_mapping"]], dtype=np.int64)
        step_of = np.clip(np.searchsorted(starts, tok_starts, side="right") - 1, 0, len(spans) - 1)
        step_of = np.concatenate([step_of, [len(spans) - 1]])
        if len(step_of) != len(vals):
            return None
        sums = np.bincount(step_of, weights=vals, minlength=len(spans))
        return (np.cumsum(sums) if self.reward == "accumulative" else sums).tolist()


class _IncrementalState:
    """One row per problem at first (its prompt run once), then one per partial solution (rows forked by select)."""

    def __init__(self, guide: IncrementalGuide, prompt_ids: list[list[int]]):
        # lazy: harness.generation.search.rows imports torch at load
        from harness.generation.search.rows import RowCache, pad_block
        self.g = guide
        block, lens = pad_block(prompt_ids)
        self.caches = [RowCache(d, len(prompt_ids)) for d in guide.models]
        for c in self.caches:
            c.extend(block, lens)
        self.q = np.zeros(len(prompt_ids))
        self.problem_tokens = np.array([len(p) for p in prompt_ids], dtype=np.int64)  # run by each model

    def select(self, rows) -> None:
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
        idx = torch.as_tensor(rows, dtype=torch.long)
        self.caches = [c.select(idx) for c in self.caches]
        self.q = self.q[np.asarray(rows)]

    def advance(self, new_tokens: list[list[int]], chains) -> np.ndarray:
        """Add each row's new tokens; returns q after them (and keeps it)."""
        # lazy: torch costs ~2 s at import; light commands must not pay it
        import torch

        from harness.generation.search.rows import pad_block
        for toks, c in zip(new_tokens, chains):
            self.problem_tokens[c.problem] += len(toks)
        block, lens = pad_block(new_tokens)
        if block.shape[1] == 0:
            self.token_values = [np.zeros(0) for _ in new_tokens]
            return self.q.copy()
        valid = torch.arange(block.shape[1]).unsqueeze(0) < lens.unsqueeze(1)
        per_token = torch.zeros(block.shape, dtype=torch.float64)
        with torch.inference_mode():
            for w, c in zip(self.g.weights, self.caches):
                before = c.last.unsqueeze(1)
                x = c.extend(block, lens)
                pred = torch.cat([before, x[:, :-1]], dim=1)          # position j-1 predicts token j
                logp = torch.log_softmax(c.dec.lm_head(pred).float(), dim=-1)
                per_token += w * logp.gather(-1, block.unsqueeze(-1)).squeeze(-1).double() * valid
        per_token = (self.g.scale * per_token).numpy()
        self.token_values = [per_token[i, :n] for i, n in enumerate(lens.tolist())]
        self.q = self.q + per_token.sum(-1)
        return self.q.copy()

    def problem_cost(self, p: int) -> dict:
        t = int(self.problem_tokens[p])
        return {"guide_tokens": t, "guide_flops": float(2 * sum(self.g.params) * t)}


class RescoreGuide:
    """Any reward model: each prefix scored as a response, its step scores aggregated."""

    incremental = False

    def __init__(self, rm, aggregation: str = "last"):
        if aggregation not in AGGREGATIONS:
            raise InputError(f"unknown aggregation '{aggregation}'", field="guide_aggregation",
                             expected="one of " + ", ".join(AGGREGATIONS))
        self.rm, self.aggregation, self.label = rm, aggregation, rm.name

    def open(self, problems, prompt_ids, tokenizer=None) -> "_RescoreState":
        return _RescoreState(self, problems, prompt_ids, tokenizer)


class _RescoreState:
    def __init__(self, guide: RescoreGuide, problems, prompt_ids, tokenizer):
        self.g, self.problems, self.tok = guide, problems, tokenizer
        self.prompt_len = [len(p) for p in prompt_ids]
        self.problem_tokens = np.zeros(len(problems), dtype=np.int64)  # prompt + prefix, every time one is scored

    def select(self, rows) -> None:
        pass

    def advance(self, new_tokens, chains) -> np.ndarray:
        texts = [self.tok.decode(c.text_tokens(), skip_special_tokens=True) for c in chains]
        for c in chains:
            self.problem_tokens[c.problem] += self.prompt_len[c.problem] + len(c.tokens)
        out = np.zeros(len(chains))
        ended = [c.finished and not c.truncated for c in chains]  # drew its eos: scored as a finished response
        for finished in (False, True):
            groups: dict[int, list[int]] = {}
            for row, c in enumerate(chains):
                if ended[row] == finished:
                    groups.setdefault(c.problem, []).append(row)
            if not groups:
                continue
            order = sorted(groups)
            pool = Pool([Problem(self.problems[p].id, self.problems[p].problem, self.problems[p].reference,
                                 [Response(texts[r]) for r in groups[p]]) for p in order])
            score = self.g.rm.compute_scores if finished else getattr(self.g.rm, "compute_prefix_scores",
                                                                      self.g.rm.compute_scores)
            steps, _ = score(pool)
            agg = ScoreSet(self.g.rm.name, pool.content_hash(), steps).aggregate(self.g.aggregation)
            for p, vals in zip(order, agg):
                out[groups[p]] = vals
        return out

    def problem_cost(self, p: int) -> dict:
        # Tokens counted with the generator's tokenizer; the adapter's FLOPs a token are not known here.
        return {"guide_tokens": int(self.problem_tokens[p]), "guide_flops": None}


def make_guide(rm, generator_tokenizer, how: str = "auto", aggregation: str | None = None):
    """The guide for a registered reward model: incremental q_t for implicit PRMs and loglik on plain Llama models
    (how="auto"), else re-scoring the prefixes with the adapter (how="rescore")."""
    if how not in ("auto", "rescore", "incremental"):
        raise InputError(f"unknown guide '{how}'", field="--guide", expected="auto, incremental or rescore")
    if how != "rescore" and isinstance(rm, (ImplicitPRM, LoglikRM)):
        if isinstance(rm, ImplicitPRM):
            policy, ref = rm._paths()
            scale, reward = rm.score_beta, rm.config.reward
        else:
            policy, ref, scale, reward = rm._model(), None, 1.0, "single"
        if rm.config.max_len is not None or rm.config.dtype != "float32":
            reward = None  # its own scores truncate or round otherwise: the search's passes are not them
        try:
            return IncrementalGuide(policy, ref, scale, generator_tokenizer, rm.name, reward)
        except InputError:
            if how == "incremental":
                raise
    elif how == "incremental":
        raise InputError(f"{rm.name} has no incremental q_t", field="--guide",
                         expected="an implicit PRM or loglik, or --guide rescore")
    default = "sum" if isinstance(rm, (ImplicitPRM, LoglikRM)) and getattr(rm.config, "reward", "single") == "single" \
        else "last"
    return RescoreGuide(rm, aggregation or default)
