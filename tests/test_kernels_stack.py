"""Stacking against numpy references and its defining properties (tolerances: 1e-5 relative
to the largest value for linear, 1e-3 for PWS/robust/nroot, which go through FFTs, powers and
iterations in float32)."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from c4 import kernels
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

RNG = np.random.default_rng(11)


def traces(n_pairs: int = 3, n_time: int = 12, n_lags: int = 101) -> np.ndarray:
    t = np.linspace(-1, 1, n_lags)
    signal = np.exp(-((t - 0.3) ** 2) / 0.01) - 0.7 * np.exp(-((t + 0.3) ** 2) / 0.01)
    noise = RNG.standard_normal((n_pairs, n_time, n_lags))
    return (signal + 0.5 * noise).astype(np.float32)


def close(got: np.ndarray, want: np.ndarray, rtol: float) -> None:
    np.testing.assert_allclose(got, want, rtol=0, atol=rtol * np.abs(want).max())


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=3, max_dims=3, max_side=9),
                  elements=st.floats(-1e3, 1e3, width=32)))
def test_linear_stack_is_the_mean(x: np.ndarray) -> None:
    got = kernels.stack(x, "linear")
    np.testing.assert_allclose(got, x.astype(np.float64).mean(axis=1), rtol=1e-5, atol=1e-3)


def test_pws_matches_reference() -> None:
    x = traces()
    close(kernels.stack(x, "pws", pws_power=2.0), ref.pws(x.astype(np.float64), 2.0), 1e-3)


def test_nroot_matches_reference() -> None:
    x = traces()
    close(kernels.stack(x, "nroot", nroot_power=3.0), ref.nroot(x.astype(np.float64), 3.0), 1e-3)


def test_robust_matches_reference_stack_and_weights() -> None:
    x = traces(n_pairs=2)
    got, weights = kernels.stack(x, "robust", robust_epsilon=1e-5, robust_max_iter=20,
                                 return_weights=True)
    for p in range(2):
        want, w = ref.robust(x[p], 1e-5, 20)
        close(got[p], want, 1e-3)
        np.testing.assert_allclose(weights[p], w, rtol=1e-3)


@pytest.mark.parametrize("method", ["linear", "pws", "robust", "nroot"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), n_time=st.integers(1, 8))
def test_identical_traces_stack_to_the_trace(method: str, seed: int, n_time: int) -> None:
    one = np.random.default_rng(seed).standard_normal(64).astype(np.float32)
    x = np.ascontiguousarray(np.broadcast_to(one, (1, n_time, 64)))
    np.testing.assert_allclose(kernels.stack(x, method)[0], one, rtol=1e-3, atol=1e-4)


def test_robust_stack_down_weights_an_outlier() -> None:
    x = traces(n_pairs=1, n_time=10)
    x[0, 4] = 20 * RNG.standard_normal(x.shape[2])  # a large incoherent trace
    stacked, weights = kernels.stack(x, "robust", return_weights=True)
    others = np.delete(weights[0], 4)
    assert weights[0, 4] < 0.2 * others.min()
    clean = np.delete(x[0], 4, axis=0).mean(axis=0)
    assert np.abs(stacked[0] - clean).max() < np.abs(x[0].mean(axis=0) - clean).max() / 5


def test_pws_suppresses_incoherent_noise_more_than_linear() -> None:
    x = traces(n_pairs=1, n_time=40)
    lin, pws = kernels.stack(x, "linear")[0], kernels.stack(x, "pws")[0]
    quiet = slice(45, 55)  # the lags between the two arrivals hold only noise
    assert np.abs(pws[quiet]).max() / np.abs(pws).max() < np.abs(lin[quiet]).max() / np.abs(
        lin).max()


@pytest.mark.parametrize("kind", ["linear", "pws"])
def test_streaming_accumulators_equal_batch_stacks(kind: str) -> None:
    x = traces(n_pairs=4, n_time=6)
    acc = kernels.LinearAccumulator(4, 101) if kind == "linear" else kernels.PwsAccumulator(
        4, 101, power=2.0)
    present = np.ones((6, 4), bool)
    present[2, 1] = False  # pair 1 had no data on day 2
    for day in range(6):
        acc.add(np.ascontiguousarray(x[:, day]), present[day])
    result = acc.result()
    for p in range(4):
        days = np.ascontiguousarray(x[p : p + 1, present[:, p]])
        np.testing.assert_allclose(result[p], kernels.stack(days, kind)[0], rtol=1e-4, atol=1e-5)
    assert acc.count.tolist() == [6, 5, 6, 6]


def test_phase_sum_of_one_trace_has_unit_magnitude_where_signal_is_nonzero() -> None:
    x = traces(n_pairs=1, n_time=1)
    s = kernels.phase_sum(x)
    np.testing.assert_allclose(np.abs(s), 1.0, rtol=1e-4)
