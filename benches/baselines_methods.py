"""Careful numpy baselines of the phase cross-correlation and the tf-PWS stack, the same math as
c4's kernels (single thread: scipy.fft ``workers=1``)."""

from __future__ import annotations

import numpy as np
import scipy.fft


def pcc_per_pair(phase: np.ndarray, valid: np.ndarray, pairs: np.ndarray, m: int
                 ) -> np.ndarray:
    """PCC2 of ``pairs`` from phase spectra (channels, windows, nfft) complex64: the window
    sum of conj(Φ_i) Φ_j, the real part of its inverse FFT, trimmed to ±m lags."""
    nfft = phase.shape[2]
    out = np.empty((len(pairs), 2 * m + 1), np.float32)
    for p, (i, j) in enumerate(pairs):
        both = valid[i] & valid[j]
        cross = np.einsum("wk,wk->k", np.conj(phase[i, both]), phase[j, both])
        trace = scipy.fft.ifft(cross, workers=1).real / max(int(both.sum()), 1)
        out[p] = np.concatenate([trace[nfft - m:], trace[:m + 1]])
    return out


def tfpws(x: np.ndarray, power: float, lo: int, hi: int, n: int) -> np.ndarray:
    """tf-PWS of one pair's (time, lags) float32 traces zero-padded to ``n`` samples, over the
    frequency indices lo..=hi: every trace's S-transform voice at frequency k in one batched
    inverse FFT; cut back to the traces' length."""
    n_lags = x.shape[1]
    spec = scipy.fft.fft(x.astype(np.complex64), n, axis=1, workers=1)
    mean = spec.mean(axis=0)
    m = np.fft.fftfreq(n, 1 / n)
    m[m == -n / 2] = n / 2
    half = np.zeros(n // 2 + 1, np.complex128)
    for k in range(lo, hi + 1):
        gauss = np.exp(-2 * np.pi**2 * m**2 / k**2).astype(np.float32)
        voices = scipy.fft.ifft(np.roll(spec, -k, axis=1) * gauss, axis=1, workers=1)
        lin = scipy.fft.ifft(np.roll(mean, -k) * gauss, workers=1)
        mag = np.abs(voices)
        coherence = np.abs((voices / np.where(mag > 0, mag, 1)).mean(axis=0))
        half[k] = (coherence**power * lin).sum()
    return np.fft.irfft(half, n)[:n_lags].astype(np.float32)
