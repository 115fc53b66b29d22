"""Careful numpy implementations of the kernels' math, used as benchmark baselines.

Same formulas as c4.kernels (float32/complex64, in-band bins only, scipy.fft), vectorised the
way an experienced numpy user would write them.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view


def band(fs: float, nfft: int, freqmin: float, freqmax: float, taper_bins: int):
    lo, hi = int(np.ceil(freqmin * nfft / fs)), int(np.floor(freqmax * nfft / fs))
    start, end = max(lo - taper_bins, 1), min(hi + taper_bins, nfft // 2 - 1)
    k = np.arange(start, end + 1)
    d = np.where(k < lo, lo - k, np.maximum(k - hi, 0))
    return start, (np.cos(np.pi * d / (2 * (taper_bins + 1))) ** 2).astype(np.float32)


def whiten_day(data, fs, win, hop, nfft, freqmin, freqmax, smoothspect_n, taper_bins=100):
    """Windows → detrend → taper → rfft → rma whitening → band, for (channels, samples)."""
    windows = sliding_window_view(data, win, axis=1)[:, ::hop]  # (C, W, L) view
    t = np.arange(win, dtype=np.float32) - (win - 1) / 2
    mean = windows.mean(axis=-1, keepdims=True)
    slope = (windows @ t)[..., None] / (t @ t)
    x = (windows - mean - slope * t) * taper(win, 0.05)
    spec = scipy.fft.rfft(x, n=nfft, axis=-1, workers=1)
    start, w = band(fs, nfft, freqmin, freqmax, taper_bins)
    h = smoothspect_n // 2
    lo, hi = max(start - h, 0), min(start + len(w) + h, nfft // 2 + 1)
    mag = np.abs(spec[..., lo:hi])
    csum = np.concatenate([np.zeros((*mag.shape[:-1], 1), np.float32),
                           np.cumsum(mag, axis=-1, dtype=np.float64)], axis=-1)
    k = np.arange(start, start + len(w))
    a, b = np.maximum(k - h, 0), np.minimum(k + h + 1, nfft // 2 + 1)
    smooth = (csum[..., b - lo] - csum[..., a - lo]) / (b - a)
    return (spec[..., start : start + len(w)] / smooth * w).astype(np.complex64), start


def taper(n: int, fraction: float) -> np.ndarray:
    m = round(fraction * n)
    w = np.ones(n, np.float32)
    ramp = np.sin(np.pi / 2 * (np.arange(m) + 0.5) / m) ** 2
    w[:m], w[n - m :] = ramp, ramp[::-1]
    return w


def trim(traces: np.ndarray, nfft: int, m: int) -> np.ndarray:
    return np.concatenate([traces[..., nfft - m :], traces[..., : m + 1]], axis=-1)


def correlate_per_pair(spec, offset, nfft, pairs, m):
    """One vectorised window reduction and one irfft per pair."""
    out = np.empty((len(pairs), 2 * m + 1), np.float32)
    half = np.zeros(nfft // 2 + 1, np.complex64)
    n_bins = spec.shape[2]
    for p, (i, j) in enumerate(pairs):
        half[offset : offset + n_bins] = (np.conj(spec[i]) * spec[j]).sum(axis=0)
        out[p] = trim(scipy.fft.irfft(half, n=nfft, workers=1), nfft, m) / spec.shape[1]
    return out


def correlate_blas(spec, offset, nfft, pairs, m):
    """Window sums for all pairs as one batched complex matrix product per bin (cgemm)."""
    s = np.ascontiguousarray(spec.transpose(2, 1, 0))  # (bins, windows, channels)
    gram = np.matmul(s.conj().transpose(0, 2, 1), s)  # (bins, C, C): Σ_w conj(S_i) S_j
    cross = gram[:, pairs[:, 0], pairs[:, 1]].T  # (pairs, bins)
    half = np.zeros((len(pairs), nfft // 2 + 1), np.complex64)
    half[:, offset : offset + spec.shape[2]] = cross
    return trim(scipy.fft.irfft(half, n=nfft, axis=-1, workers=1), nfft, m) / spec.shape[1]
