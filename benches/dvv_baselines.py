"""Careful numpy implementations of the dv/v steps, the baselines of ``test_bench_dvv.py``.

Same formulas as c4.dvv (cubic-convolution stretch, Pearson cc, grid then golden-section
refinement; MWCS delays with Hann taper, smoothed spectra, coherence weights), vectorised over
times (and windows) the way an experienced numpy user would write them: the grid search is one
BLAS matrix product per pair, the refinement advances every time step at once.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy.ndimage import correlate1d

GOLDEN = 0.6180339887498949


def _keys(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x <= 1, (1.5 * x - 2.5) * x * x + 1,
                    np.where(x < 2, ((-0.5 * x + 2.5) * x - 4) * x + 2, 0.0))


def stretched(ref: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``ref`` at fractional indices ``pos`` (any shape), cubic convolution, zero outside."""
    base = np.floor(pos)
    frac = pos - base
    base = base.astype(np.int64)
    padded = np.concatenate([np.zeros(2), ref, np.zeros(3)])
    out = np.zeros(pos.shape)
    for k in (-1, 0, 1, 2):
        i = np.clip(base + k + 2, 0, len(padded) - 1)
        out += padded[i] * _keys(frac - k)
    return out


def _standardize(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def stretching(ref: np.ndarray, cur: np.ndarray, idx: np.ndarray, zero: int,
               max_stretch: float, n_grid: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Best stretch and cc per (pair, time); ``idx``: the lag indices measured."""
    grid = np.linspace(-max_stretch, max_stretch, n_grid)
    rel = idx - zero
    out = np.empty(cur.shape[:2])
    cc_out = np.empty(cur.shape[:2])
    for p in range(ref.shape[0]):
        r = ref[p].astype(np.float64)
        table = _standardize(stretched(r, zero + rel[None, :] * (1 + grid[:, None])))
        u = _standardize(cur[p][:, idx].astype(np.float64))
        cc = u @ table.T
        k = np.argmax(cc, axis=1)
        best = cc[np.arange(len(k)), k]
        lo, hi = grid[np.maximum(k - 1, 0)], grid[np.minimum(k + 1, n_grid - 1)]

        def f(eps: np.ndarray, r: np.ndarray = r, u: np.ndarray = u) -> np.ndarray:
            s = _standardize(stretched(r, zero + rel[None, :] * (1 + eps[:, None])))
            return np.einsum("ij,ij->i", s, u)

        a, b = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
        fa, fb = f(a), f(b)
        while np.max(hi - lo) > tol:
            left = fa >= fb
            hi, lo = np.where(left, b, hi), np.where(left, lo, a)
            a_new = np.where(left, hi - GOLDEN * (hi - lo), b)
            b_new = np.where(left, a, lo + GOLDEN * (hi - lo))
            f_new = f(np.where(left, a_new, b_new))
            fa, fb = np.where(left, f_new, fb), np.where(left, fa, f_new)
            a, b = a_new, b_new
        eps = np.where(fa >= fb, a, b)
        val = np.maximum(fa, fb)
        out[p] = np.where(val >= best, eps, grid[k])
        cc_out[p] = np.maximum(val, best)
    return out, cc_out


def mwcs_delays(ref: np.ndarray, cur: np.ndarray, starts: np.ndarray, win: int, nfft: int,
                lo: int, hi: int, half: int, fs: float) -> tuple[np.ndarray, ...]:
    """Delays, errors and mean coherences per (pair, time, window) (starts shared by pairs)."""
    taper = np.hanning(win)
    kernel = np.hanning(2 * half + 3)[1:-1]
    omega = 2 * np.pi * np.arange(lo, hi + 1) * fs / nfft
    norm = correlate1d(np.ones(nfft // 2 + 1), kernel, mode="constant")

    def spectra(x: np.ndarray) -> np.ndarray:
        seg = np.stack([x[..., s:s + win] for s in starts], axis=-2)
        seg = (seg - seg.mean(axis=-1, keepdims=True)) * taper
        return scipy.fft.rfft(seg, n=nfft, axis=-1, workers=1)

    def smooth(x: np.ndarray) -> np.ndarray:
        return correlate1d(x, kernel, axis=-1, mode="constant") / norm

    fr = spectra(ref.astype(np.float64))[:, None]
    fc = spectra(cur.astype(np.float64))
    cross = fr * np.conj(fc)
    sx = smooth(cross.real) + 1j * smooth(cross.imag)
    band = slice(lo, hi + 1)
    coh = np.minimum(np.abs(sx[..., band])
                     / np.sqrt(smooth(np.abs(fr) ** 2)[..., band]
                               * smooth(np.abs(fc) ** 2)[..., band]), 1.0)
    c = np.minimum(coh, 0.99)
    w = c**2 / (1 - c**2)
    phi = np.unwrap(np.angle(sx[..., band]), axis=-1)
    swo2 = (w * omega**2).sum(-1)
    dt = (w * omega * phi).sum(-1) / swo2
    misfit = ((phi - omega * dt[..., None]) ** 2).sum(-1) / (len(omega) - 1)
    err = np.sqrt(misfit * (w**2 * omega**2).sum(-1)) / swo2
    return dt, err, coh.mean(-1)


def moving_linear(traces: np.ndarray, present: np.ndarray, length: int, step: int
                  ) -> np.ndarray:
    """Linear moving stacks (time, pair, lag) of daily traces (pair, day, lag) by cumulative
    sums over the days with data; windows as :func:`c4.moving.moving_windows`."""
    x = np.where(present[..., None], traces, 0.0)
    csum = np.concatenate([np.zeros_like(x[:, :1]), np.cumsum(x, axis=1, dtype=np.float64)],
                          axis=1)
    ccount = np.concatenate([np.zeros_like(present[:, :1], dtype=np.int64),
                             np.cumsum(present, axis=1)], axis=1)
    n_days = traces.shape[1]
    out = []
    for c in range(0, n_days, step):
        a, b = max(c - length // 2, 0), min(c - length // 2 + length, n_days)
        with np.errstate(invalid="ignore"):
            out.append((csum[:, b] - csum[:, a]) / (ccount[:, b] - ccount[:, a])[:, None])
    return np.stack(out).astype(np.float32)
