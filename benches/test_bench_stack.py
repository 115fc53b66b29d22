"""Stacking one batch of pairs whose days differ (a long stack with outages): every pair in one
parallel kernel call (``c4.stacking.stack_dailies`` -> ``kernels.stack_ragged``) against the
previous path, kept here as the baseline: pairs grouped by their pattern of present days,
each group gathered with numpy (``np.ix_``) and stacked by its own kernel call, so that pairs
with their own pattern (the common case over months) ran one per call, on one core.

Sizes: 64 pairs x 30 days x 8001 lags (maxlag 200 s at 20 Hz, NoisePy's), each pair missing
one or two random days, robust and PWS stacks.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from c4 import kernels
from c4.config import ProcessingConfig
from c4.stacking import stack_dailies
from c4.store import DailyResult
from conftest import Sizes

METHODS = ("robust", "pws")


@pytest.fixture(scope="module")
def batch(sizes: Sizes) -> list[DailyResult]:
    full = sizes.day_s == 86400.0
    n_pairs, n_days = (64, 30) if full else (8, 6)
    n_lags = round(2 * sizes.maxlag * sizes.fs) + 1
    rng = np.random.default_rng(4)
    names = np.array([f"XX.S{i:03d}..HHZ_XX.S{i + 1:03d}..HHZ" for i in range(n_pairs)])
    missing = np.zeros((n_pairs, n_days), bool)
    for p in range(n_pairs):
        missing[p, rng.choice(n_days, size=1 + p % 2, replace=False)] = True
    lags = (np.arange(n_lags) - n_lags // 2) / sizes.fs
    out = []
    for d in range(n_days):
        rows = np.flatnonzero(~missing[:, d])
        data = rng.standard_normal((len(rows), 1, n_lags), np.float32)
        out.append(DailyResult(dt.date(2024, 1, 1) + dt.timedelta(days=d), data,
                               np.full((len(rows), 1), 10, np.uint32), lags,
                               {"pair": names[rows]}))
    return out


def per_pattern(dailies: list[DailyResult], methods: tuple[str, ...],
                threads: int | None) -> dict[str, np.ndarray]:
    """The previous path: a dense (pairs, days, lags) copy, then per pattern of present days an
    ``np.ix_`` gather and one kernel call."""
    p = ProcessingConfig()
    names = sorted({str(n) for d in dailies for n in d.pairs["pair"]})
    index = {n: i for i, n in enumerate(names)}
    n_lags = len(dailies[0].lags)
    traces = np.zeros((len(names), len(dailies), n_lags), np.float32)
    present = np.zeros((len(names), len(dailies)), bool)
    for t, d in enumerate(dailies):
        rows = np.array([index[str(n)] for n in d.pairs["pair"]])
        traces[rows, t] = d.data[:, 0]
        present[rows, t] = d.counts[:, 0] > 0
    stacks = {m: np.zeros((len(names), n_lags), np.float32) for m in methods}
    patterns: dict[bytes, list[int]] = {}
    for i in range(len(names)):
        patterns.setdefault(present[i].tobytes(), []).append(i)
    for group in patterns.values():
        rows = np.array(group)
        x = np.ascontiguousarray(traces[np.ix_(rows, np.flatnonzero(present[rows[0]]))])
        for m in methods:
            stacks[m][rows] = kernels.stack(x, m, pws_power=p.pws_power,
                                            robust_epsilon=p.robust_epsilon,
                                            robust_max_iter=p.robust_max_iter, threads=threads)
    return stacks


@pytest.mark.benchmark(group="stack_batch")
def test_stack_batch_per_pattern_numpy_gather(benchmark, batch) -> None:
    out = benchmark.pedantic(per_pattern, (batch, METHODS, None), rounds=3, iterations=1,
                             warmup_rounds=1)
    _, want, _, _ = stack_dailies(batch, METHODS, ProcessingConfig())
    for m in METHODS:
        np.testing.assert_array_equal(out[m], want[m])  # same numbers, bit for bit
    benchmark.extra_info.update(pairs=len(out["robust"]), days=len(batch),
                                lags=len(batch[0].lags))


@pytest.mark.benchmark(group="stack_batch")
def test_stack_batch_c4(benchmark, batch) -> None:
    _, out, _, _ = benchmark.pedantic(stack_dailies, (batch, METHODS, ProcessingConfig()),
                                      rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(pairs=len(out["robust"]), days=len(batch),
                                lags=len(batch[0].lags))
