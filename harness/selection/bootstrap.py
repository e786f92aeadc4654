"""Percentile bootstrap over problems for the mean accuracy, all columns at once.

A resample is a vector of counts (how often each problem was drawn); the resampled means of every column are one
matrix product counts @ accuracy, so 1000 resamples of hundreds of rows cost one small matmul.
"""

from __future__ import annotations

import numpy as np

from harness.core.errors import InputError


def resample_counts(n_problems: int, resamples: int, seed: int | np.random.SeedSequence = 0) -> np.ndarray:
    """(B, P) draw counts of P problems resampled with replacement, B times."""
    if resamples < 1:
        raise InputError("need at least one bootstrap resample", field="bootstrap", expected="an integer >= 1")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_problems, size=(resamples, n_problems))
    offsets = (np.arange(resamples) * n_problems)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=resamples * n_problems).reshape(resamples, n_problems)


def bootstrap_ci(acc: np.ndarray, resamples: int = 1000, seed: int | np.random.SeedSequence = 0,
                 level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """acc: (P, ...) per-problem accuracies. Returns (mean, low, high), each of shape acc.shape[1:]."""
    acc = np.asarray(acc, dtype=np.float64)
    P = acc.shape[0]
    flat = acc.reshape(P, -1)
    counts = resample_counts(P, resamples, seed).astype(np.float64)
    means = counts @ flat / P                                       # (B, columns)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    shape = acc.shape[1:]
    return flat.mean(axis=0).reshape(shape), low.reshape(shape), high.reshape(shape)


def paired_difference(a: np.ndarray, b: np.ndarray, resamples: int = 1000,
                      seed: int | np.random.SeedSequence = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of a - b and its percentile interval, problems resampled together: a[i] and b[i] are two systems'
    per-problem values on the same problem i, so a resample keeps each problem's pair (what makes it paired)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise InputError(f"paired values must be two equal-length, non-empty vectors (got {a.shape} and {b.shape})",
                         field="bootstrap", expected="one value per problem for each system")
    mean, low, high = bootstrap_ci(a - b, resamples, seed, level)
    return float(mean), float(low), float(high)


def verdict(low: float, high: float) -> str:
    """'holds' when the interval of A - B lies above 0, 'does not hold' below 0, 'tie' when it contains 0."""
    return "holds" if low > 0 else "does not hold" if high < 0 else "tie"
