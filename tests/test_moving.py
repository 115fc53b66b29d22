"""Moving-window stacks: window placement, and every stack method against the kernels applied
by hand to the days of each window (days missing for a pair, several sub-stack groups)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from c4 import kernels
from c4.config import ProcessingConfig
from c4.moving import moving_stacks, moving_windows
from c4.store import DailyResult

D0 = dt.date(2024, 3, 1)


def test_windows_are_centred_and_cover_the_span() -> None:
    days = [D0 + dt.timedelta(days=k) for k in (0, 1, 2, 5, 9)]
    even = moving_windows(days, 4, 2)
    assert [w.first for w in even] == [D0 - dt.timedelta(days=2) + dt.timedelta(days=2 * k)
                                       for k in range(5)]
    assert all((w.last - w.first).days == 3 for w in even)
    assert even[0].centre == np.datetime64("2024-03-01T00")  # midnight of the centre day
    odd = moving_windows(days, 3, 1)
    assert len(odd) == 10 and odd[0].first == D0 - dt.timedelta(days=1)
    assert odd[0].centre == np.datetime64("2024-03-01T12")  # noon for odd lengths
    assert D0 in odd[0] and D0 + dt.timedelta(days=2) not in odd[0]
    with pytest.raises(ValueError, match="length"):
        moving_windows(days, 0, 1)


def _daily(k: int, names: list[str], rng: np.random.Generator, groups: int = 2) -> DailyResult:
    n = len(names)
    data = rng.standard_normal((n, groups, 21)).astype(np.float32)
    counts = rng.integers(1, 5, (n, groups)).astype(np.uint32)
    return DailyResult(D0 + dt.timedelta(days=k), data, counts, np.arange(-10, 11) / 2.0,
                       {"pair": np.array(names), "distance_km": np.full(n, 5.0)})


@pytest.mark.parametrize("method", kernels.STACK_METHODS)
def test_every_stack_method_matches_the_kernel_on_each_window(method: str) -> None:
    rng = np.random.default_rng(0)
    everyone = ["A_B", "A_C", "B_C"]
    dailies = [_daily(k, everyone if k % 3 else everyone[:2], rng) for k in (0, 1, 2, 3, 4, 6)]
    dailies[2].counts[1, 0] = 0  # A_C has no window in day 2's first group
    windows = moving_windows([d.day for d in dailies], 3, 1)
    proc = ProcessingConfig()
    table, stacks, lags, counts = moving_stacks(dailies, windows, [method], proc)
    assert list(table["pair"]) == everyone
    assert stacks[method].shape == (len(windows), 3, 21)
    for k, w in enumerate(windows):
        for p, name in enumerate(everyone):
            traces, n_days = [], 0
            for d in dailies:
                if d.day not in w or name not in list(d.pairs["pair"]):
                    continue
                row = list(d.pairs["pair"]).index(name)
                used = d.counts[row] > 0
                traces += list(d.data[row][used])
                n_days += bool(used.any())
            assert counts["n_days"][k, p] == n_days
            if not traces:
                assert np.isnan(stacks[method][k, p]).all()
                continue
            x = np.ascontiguousarray(np.array(traces)[None], np.float32)
            expect = kernels.stack(x, method, pws_power=proc.pws_power,
                                   robust_epsilon=proc.robust_epsilon,
                                   robust_max_iter=proc.robust_max_iter,
                                   nroot_power=proc.nroot_power,
                                   tfpws_band=(proc.freqmin / proc.sampling_rate,
                                               proc.freqmax / proc.sampling_rate),
                                   selective_threshold=proc.selective_threshold)
            np.testing.assert_allclose(stacks[method][k, p], expect[0], rtol=1e-5, atol=1e-6)
    # Day 5 is missing: the window centred on it holds days 4 and 6 only.
    centre5 = next(i for i, w in enumerate(windows) if w.first == D0 + dt.timedelta(days=4))
    assert counts["n_days"][centre5, 0] == 2
    np.testing.assert_array_equal(lags, dailies[0].lags)


def test_linear_moving_stack_is_the_mean_of_the_window_days() -> None:
    rng = np.random.default_rng(1)
    dailies = [_daily(k, ["A_B"], rng, groups=1) for k in range(5)]
    windows = moving_windows([d.day for d in dailies], 2, 1)
    _, stacks, _, counts = moving_stacks(dailies, windows, ["linear"], ProcessingConfig())
    for k, w in enumerate(windows):
        inside = [d.data[0, 0] for d in dailies if d.day in w]
        np.testing.assert_allclose(stacks["linear"][k, 0], np.mean(inside, axis=0), rtol=1e-6)
        assert counts["n_windows"][k, 0] == sum(int(d.counts[0, 0]) for d in dailies
                                                if d.day in w)
