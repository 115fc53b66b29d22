"""Spectral whitening and full window spectra against numpy references (rtol 1e-4 relative to
the largest value: float32 FFTs against float64 ones)."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
import scipy.fft
from c4 import kernels
from hypothesis import given, settings
from hypothesis import strategies as st

RNG = np.random.default_rng(7)


def close(got: np.ndarray, want: np.ndarray, rtol: float = 1e-4) -> None:
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("freq_norm", ["none", "rma", "phase_only"])
def test_whiten_matches_reference(freq_norm: str) -> None:
    nfft = 1000
    spec = scipy.fft.rfft(RNG.standard_normal((3, nfft))).astype(np.complex64)
    got, offset = kernels.whiten(spec, 20.0, nfft, 0.5, 4.0, freq_norm=freq_norm,
                                 smoothspect_n=9, taper_bins=10)
    want, start = ref.whiten(spec.astype(complex), 20.0, nfft, 0.5, 4.0, freq_norm, 9, 10)
    assert offset == start == 15
    close(got, want)


@settings(max_examples=25, deadline=None)
@given(
    nfft=st.integers(64, 600),
    lo=st.floats(0.05, 0.3),
    width=st.floats(0.05, 0.15),
    taper_bins=st.integers(0, 20),
    seed=st.integers(0, 2**16),
)
def test_phase_only_gives_unit_amplitude_in_band(nfft, lo, width, taper_bins, seed) -> None:
    fs = 1.0
    x = np.random.default_rng(seed).standard_normal((1, nfft))
    spec = scipy.fft.rfft(x).astype(np.complex64)
    out, offset = kernels.whiten(spec, fs, nfft, lo, lo + width, freq_norm="phase_only",
                                 taper_bins=taper_bins)
    freqs = (offset + np.arange(out.shape[1])) * fs / nfft
    inband = (freqs >= lo) & (freqs <= lo + width)
    np.testing.assert_allclose(np.abs(out[0, inband]), 1.0, rtol=1e-5)
    assert (np.abs(out[0, ~inband]) < 1).all()


@pytest.mark.parametrize("time_norm", ["none", "one_bit"])
def test_spectra_equal_the_composition_of_reference_steps(time_norm: str) -> None:
    fs, cc_len, step, maxlag = 10.0, 40.0, 20.0, 10.0
    data = RNG.standard_normal((2, 1000)).astype(np.float32)
    sp = kernels.spectra(data, fs, cc_len=cc_len, step=step, maxlag=maxlag, freqmin=0.2,
                         freqmax=3.0, time_norm=time_norm, freq_norm="rma", smoothspect_n=5,
                         taper_bins=8, taper_fraction=0.05)
    assert sp.nfft == kernels.fast_len(400 + 100) == 500
    flat, _, _, _ = ref.windows(data, 400, 200, 0.05)
    prepared = ref.time_normalize(flat, time_norm) * ref.taper(400, 0.05)
    spec = scipy.fft.rfft(prepared, n=sp.nfft, axis=-1)
    want, start = ref.whiten(spec, fs, sp.nfft, 0.2, 3.0, "rma", 5, 8)
    assert sp.offset == start
    assert sp.data.shape == (2, 4, want.shape[-1])
    close(sp.data, want, rtol=2e-4)
    np.testing.assert_allclose(sp.freqs[[0, -1]], [start * fs / 500, (start + want.shape[-1] - 1)
                                                   * fs / 500])
    assert sp.valid.all()


def test_zero_filled_gaps_count_without_a_mask() -> None:
    data = RNG.standard_normal((1, 400)).astype(np.float32)
    data[0, 120:140] = 0.0  # 20 s of zero fill in the second window (20 %)
    data[0, 250] = 0.0  # a single exact zero is not a gap
    sp = kernels.spectra(data, 1.0, cc_len=100, step=100, maxlag=10, freqmin=0.05,
                         freqmax=0.4, max_gap_fraction=0.1)
    np.testing.assert_allclose(sp.qc.gap_fraction[0], [0.0, 0.2, 0.0, 0.0])
    assert sp.valid[0].tolist() == [True, False, True, True]


def test_qc_marks_flat_spiky_and_gappy_windows_invalid() -> None:
    data = RNG.standard_normal((3, 400)).astype(np.float32)
    data[0, :100] = 0.0  # flat first window
    data[1, 150] = 1e4  # spike in the second window
    gaps = np.zeros_like(data, bool)
    gaps[2, 250:260] = True  # 10% gap in the third window
    sp = kernels.spectra(data, 1.0, cc_len=100, step=100, maxlag=10, freqmin=0.05,
                         freqmax=0.4, gaps=gaps, max_std_ratio=8.0, max_gap_fraction=0.05)
    assert sp.valid.tolist() == [
        [False, True, True, True],
        [True, False, True, True],
        [True, True, False, True],
    ]
