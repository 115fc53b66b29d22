"""tf-PWS (Schimmel & Gallart 2007) and NoisePy's selective stack against numpy references
(reference.py: an S-transform evaluated frequency by frequency; tolerance 1e-3 of the largest
value, float32 FFTs) and on identical traces."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from c4 import kernels

RNG = np.random.default_rng(21)


def traces(n_pairs: int = 2, n_time: int = 8, n_lags: int = 121, noise: float = 0.6
           ) -> np.ndarray:
    t = np.linspace(-1, 1, n_lags)
    signal = np.exp(-((t - 0.3) ** 2) / 0.005) * np.cos(40 * t)
    return (signal + noise * RNG.standard_normal((n_pairs, n_time, n_lags))).astype(np.float32)


@pytest.mark.parametrize("band", [(0.0, 0.5), (0.05, 0.3)])
def test_tfpws_matches_the_s_transform_reference(band: tuple[float, float]) -> None:
    x = traces()
    got = kernels.stack(x, "tfpws", pws_power=2.0, tfpws_band=band)
    for p in range(len(x)):
        want = ref.tfpws(x[p].astype(np.float64), 2.0, *band)
        np.testing.assert_allclose(got[p], want, rtol=0, atol=1e-3 * np.abs(want).max())


def test_tfpws_of_identical_traces_is_the_trace_in_its_band() -> None:
    one = traces(1, 1, 100)[0, 0]
    x = np.ascontiguousarray(np.broadcast_to(one, (1, 5, 100)))
    full = kernels.stack(x, "tfpws", tfpws_band=(0.0, 0.5))[0]
    np.testing.assert_allclose(full, one - one.mean(), atol=1e-4)  # all but DC
    band = kernels.stack(x, "tfpws", tfpws_band=(0.1, 0.2))[0]
    spec = np.fft.rfft(one)
    keep = np.zeros_like(spec)
    keep[10:21] = spec[10:21]  # frequency indices ceil(0.1 * 100) ..= floor(0.2 * 100)
    np.testing.assert_allclose(band, np.fft.irfft(keep, 100), atol=1e-4)


def test_tfpws_suppresses_incoherent_noise_more_than_linear() -> None:
    x = traces(1, 30)
    lin = kernels.stack(x, "linear")[0]
    tf = kernels.stack(x, "tfpws", tfpws_band=(0.0, 0.5))[0]
    quiet = np.r_[0:40, 100:121]  # lags away from the arrival at 0.3
    assert np.abs(tf[quiet]).max() / np.abs(tf).max() < np.abs(lin[quiet]).max() / np.abs(
        lin).max() / 2


def test_selective_matches_the_reference_and_drops_bad_days() -> None:
    x = traces(n_pairs=3, n_time=10, noise=0.1)
    x[0, 3] = -x[0, 3]  # a day with the polarity flipped
    x[1, 5] = 0.5 * RNG.standard_normal(x.shape[2])  # a noise-only day
    for threshold in (0.0, 0.5):
        got, weights = kernels.stack(x, "selective", selective_threshold=threshold,
                                     return_weights=True)
        for p in range(3):
            want, keep = ref.selective(x[p].astype(np.float64), threshold)
            np.testing.assert_allclose(got[p], want, rtol=0, atol=1e-5 * np.abs(want).max())
            np.testing.assert_allclose(weights[p], np.where(keep, 1 / keep.sum(), 0), rtol=1e-6)
    _, weights = kernels.stack(x, "selective", selective_threshold=0.5, return_weights=True)
    assert weights[0, 3] == 0 and weights[1, 5] == 0 and (weights[2] > 0).all()


def test_selective_of_identical_traces_is_the_trace_and_keeps_every_day() -> None:
    one = traces(1, 1)[0, 0]
    x = np.ascontiguousarray(np.broadcast_to(one, (1, 6, len(one))))
    got, weights = kernels.stack(x, "selective", selective_threshold=0.99, return_weights=True)
    np.testing.assert_allclose(got[0], one, rtol=1e-5)
    np.testing.assert_allclose(weights, 1 / 6)


def test_stack_parameters_are_checked() -> None:
    x = traces(1, 2)
    with pytest.raises(ValueError, match="selective_threshold"):
        kernels.stack(x, "selective", selective_threshold=1.5)
    with pytest.raises(ValueError, match="tfpws_band"):
        kernels.stack(x, "tfpws", tfpws_band=(0.3, 0.6))
