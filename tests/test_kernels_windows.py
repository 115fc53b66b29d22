"""Windows and time normalisation against the numpy references (float32 kernels vs float64
references: relative tolerance 1e-4 unless stated)."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from c4 import kernels

RNG = np.random.default_rng(42)


def test_windows_match_reference_detrend_qc_and_taper() -> None:
    data = (RNG.standard_normal((3, 1000)) + np.linspace(0, 5, 1000)).astype(np.float32)
    out, qc = kernels.windows(data, fs=10.0, cc_len=20.0, step=7.5, taper_fraction=0.1)
    _flat, std, ratio, tapered = ref.windows(data, 200, 75, 0.1)
    assert out.shape == (3, 11, 200)
    np.testing.assert_allclose(out, tapered, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(qc.std, std, rtol=1e-5)
    np.testing.assert_allclose(qc.max_ratio, ratio, rtol=1e-5)
    assert (qc.gap_fraction == 0).all()


def test_gap_fraction_counts_flagged_samples_per_window() -> None:
    data = RNG.standard_normal((1, 400)).astype(np.float32)
    gaps = np.zeros((1, 400), bool)
    gaps[0, 120:150] = True
    _, qc = kernels.windows(data, fs=1.0, cc_len=100.0, step=100.0, gaps=gaps)
    np.testing.assert_allclose(qc.gap_fraction[0], [0.0, 0.3, 0.0, 0.0])


@pytest.mark.parametrize("method", ["none", "one_bit", "rma", "clip"])
def test_time_normalisation_matches_reference(method: str) -> None:
    x = (RNG.standard_normal((4, 500)) * np.linspace(1, 20, 500)).astype(np.float32)
    x[1, 10] = 0.0
    got = kernels.time_normalize(x, method, smooth_n=21, clip_std=2.0)
    want = ref.time_normalize(x, method, smooth_n=21, clip_std=2.0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_rma_flattens_an_amplitude_ramp() -> None:
    x = (RNG.standard_normal((1, 20000)) * np.linspace(1, 100, 20000)).astype(np.float32)
    y = kernels.time_normalize(x, "rma", smooth_n=201)
    first, last = np.abs(y[0, :5000]).mean(), np.abs(y[0, -5000:]).mean()
    assert abs(first / last - 1) < 0.05
