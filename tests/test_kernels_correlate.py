"""Cross-correlation against the numpy reference, the lag convention and its symmetries.

Tolerance: 1e-4 of the largest reference value (float32 sums and FFTs against float64).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import reference as ref
from c4 import kernels
from hypothesis import given, settings
from hypothesis import strategies as st

RNG = np.random.default_rng(3)
FS = 10.0


def day_spectra(n_channels: int = 5, n_samples: int = 3000, **kw) -> kernels.Spectra:
    data = RNG.standard_normal((n_channels, n_samples)).astype(np.float32)
    opts = dict(cc_len=50.0, step=25.0, maxlag=10.0, freqmin=0.2, freqmax=3.0, taper_bins=5)
    opts.update(kw)
    return kernels.spectra(data, FS, **opts)


def all_pairs(n: int) -> np.ndarray:
    return np.array([(i, j) for i in range(n) for j in range(i, n)], np.int64)


def close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("cc_method", ["xcorr", "coherency", "deconv"])
@pytest.mark.parametrize("substack", [0, 4])
def test_correlate_matches_reference(cc_method: str, substack: int) -> None:
    sp = day_spectra(n_channels=6)
    valid = sp.valid.copy()
    valid[1, 2] = valid[4, 0] = False
    sp = dataclasses.replace(sp, valid=valid)
    pairs = all_pairs(6)[::-1].copy()  # any order, autos included
    cc = kernels.correlate(sp, pairs, 10.0, cc_method=cc_method, substack=substack,
                           smoothspect_n=3)
    want, counts = ref.correlate(sp.data, valid, sp.offset, sp.nfft, pairs, 100, cc_method,
                                 substack, 3)
    assert cc.data.shape == want.shape == (len(pairs), 1 if substack == 0 else 3, 201)
    np.testing.assert_array_equal(cc.counts, counts)
    close(cc.data, want)
    np.testing.assert_allclose(cc.lags[[0, 100, -1]], [-10.0, 0.0, 10.0])


def test_many_channels_cross_tile_boundaries() -> None:
    sp = day_spectra(n_channels=37, n_samples=1000, cc_len=20.0, step=20.0, maxlag=2.0)
    pairs = all_pairs(37)
    cc = kernels.correlate(sp, pairs, 2.0)
    want, _ = ref.correlate(sp.data, sp.valid, sp.offset, sp.nfft, pairs, 20)
    close(cc.data, want)


def test_output_length_is_exactly_two_maxlag_fs_plus_one() -> None:
    sp = day_spectra(maxlag=12.3)
    cc = kernels.correlate(sp, np.array([[0, 1]], np.int64), 12.3)
    assert cc.data.shape[-1] == 2 * 123 + 1
    assert cc.lags[123] == 0.0


@settings(max_examples=15, deadline=None)
@given(shift=st.integers(-60, 60), seed=st.integers(0, 2**16))
def test_receiver_delayed_by_k_samples_peaks_at_plus_k(shift: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    src = rng.standard_normal(4000)
    rcv = np.roll(src, shift)  # rcv(t) = src(t - shift): delayed by `shift` samples
    data = np.stack([src, rcv]).astype(np.float32)
    sp = kernels.spectra(data, FS, cc_len=100.0, step=50.0, maxlag=8.0, freqmin=0.1,
                         freqmax=4.0)
    cc = kernels.correlate(sp, np.array([[0, 1]], np.int64), 8.0)
    assert np.argmax(cc.data[0, 0]) - 80 == shift


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), cc_method=st.sampled_from(["xcorr", "coherency"]))
def test_swapping_source_and_receiver_reverses_time(seed: int, cc_method: str) -> None:
    data = np.random.default_rng(seed).standard_normal((2, 2000)).astype(np.float32)
    sp = kernels.spectra(data, FS, cc_len=40.0, step=20.0, maxlag=5.0, freqmin=0.2, freqmax=3)
    cc = kernels.correlate(sp, np.array([[0, 1], [1, 0]], np.int64), 5.0, cc_method=cc_method)
    np.testing.assert_allclose(cc.data[0, 0], cc.data[1, 0, ::-1], rtol=0,
                               atol=1e-5 * np.abs(cc.data).max())


def test_autocorrelation_peaks_at_zero_lag_and_is_symmetric() -> None:
    sp = day_spectra(n_channels=1)
    cc = kernels.correlate(sp, np.array([[0, 0]], np.int64), 10.0)
    trace = cc.data[0, 0]
    assert np.argmax(trace) == 100
    np.testing.assert_allclose(trace, trace[::-1], atol=1e-5 * trace.max())


def test_pair_without_common_valid_window_is_zero_with_count_zero() -> None:
    sp = day_spectra(n_channels=2)
    valid = sp.valid.copy()
    valid[0, :] = False
    sp = dataclasses.replace(sp, valid=valid)
    cc = kernels.correlate(sp, np.array([[0, 1]], np.int64), 10.0)
    assert cc.counts[0, 0] == 0
    assert not cc.data.any()


def test_spectra_round_trip_through_the_complex_layout() -> None:
    sp = day_spectra(n_channels=3)
    again = kernels.Spectra.from_complex(sp.data, sp.valid, offset=sp.offset, nfft=sp.nfft,
                                         fs=sp.fs)
    np.testing.assert_array_equal(again.packed, sp.packed)
    pairs = all_pairs(3)
    np.testing.assert_array_equal(kernels.correlate(again, pairs, 10.0).data,
                                  kernels.correlate(sp, pairs, 10.0).data)


def test_result_does_not_depend_on_thread_count() -> None:
    sp = day_spectra(n_channels=20, n_samples=1500)
    pairs = all_pairs(20)
    one = kernels.correlate(sp, pairs, 10.0, threads=1).data
    two = kernels.correlate(sp, pairs, 10.0, threads=2).data
    np.testing.assert_array_equal(one, two)
