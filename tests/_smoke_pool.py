"""A hand-made smoke-sized arith pool (12 problems x 8 responses) for the reliability and distributed tests."""

from __future__ import annotations

import random

from harness.core.pool import Pool, Problem, Response, save_pool


def smoke_pool(problems: int = 12, responses: int = 8, seed: int = 0) -> Pool:
    rng = random.Random(seed)
    out = []
    for i in range(problems):
        a, b, c = rng.randint(1, 20), rng.randint(1, 9), rng.randint(1, 9)
        truth = a + b * c
        resps = []
        for j in range(responses):
            slip = rng.choice([0, 0, 1, -1, 10])
            prod = b * c + slip
            steps = [f"{b} * {c} = {prod}", f"{a} + {prod} = {a + prod}"][: 1 + j % 2]
            answer = a + prod if len(steps) == 2 else prod
            text = "".join(f"Step {k}: {s}\n\n" for k, s in enumerate(steps, 1)) + f"The answer is {answer}"
            resps.append(Response(text, str(answer), answer == truth))
        out.append(Problem(f"smoke/{i}", f"Compute {a} + {b} * {c}", str(truth), resps, {"generator": "hand"}))
    return Pool(out)


def generator_pools(problems: int, responses: int = 64, gens=("weak", "mid", "strong")) -> list[Pool]:
    """One smoke pool per generator name (seeded by its position), each problem tagged with that generator: the
    three test pools of a run, as the selection and tables code reads them."""
    out = []
    for k, g in enumerate(gens):
        pool = smoke_pool(problems=problems, responses=responses, seed=k)
        for p in pool.problems:
            p.meta["generator"] = g
        out.append(pool)
    return out


def empty_responses_pool() -> Pool:
    """Responses with no tokens beside one of one token: the edge the prompt-sharing and prefix-tree scorers must
    get right (a sequence that is all prompt)."""
    return Pool([Problem("e", "Compute 1 + 1", "2", [Response(""), Response("2"), Response("")]),
                 Problem("f", "Compute 3 * 3", "9", [Response("")])])


def smoke_pool_file(path, **kw):
    save_pool(smoke_pool(**kw), path)
    return path
