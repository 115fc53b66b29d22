"""Independent numpy implementations of the dv/v formulas (the tests' references).

Written from the formulas in the docstrings of c4.dvv and the papers, not from the kernels:
Keys (1981) cubic convolution, Pearson correlation, golden-section-free refinement with
scipy's bounded scalar minimiser, and the MWCS steps of Clarke et al. (2011) with numpy's FFT,
convolution and unwrap.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize


def keys_weights(frac: np.ndarray) -> np.ndarray:
    """Weights of the samples at offsets -1, 0, 1, 2 for fractional positions ``frac``."""
    a = -0.5
    out = []
    for k in (-1, 0, 1, 2):
        x = np.abs(frac - k)
        near = (a + 2) * x**3 - (a + 3) * x**2 + 1
        far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
        out.append(np.where(x <= 1, near, np.where(x < 2, far, 0.0)))
    return np.stack(out, axis=-1)


def interp_cubic(trace: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``trace`` (float) at fractional indices ``pos``, zero outside."""
    base = np.floor(pos).astype(np.int64)
    w = keys_weights(pos - base)
    idx = base[..., None] + np.arange(-1, 3)
    inside = (idx >= 0) & (idx < len(trace))
    vals = np.where(inside, trace.astype(np.float64)[np.clip(idx, 0, len(trace) - 1)], 0.0)
    return (vals * w).sum(-1)


def indices_of(segments: np.ndarray) -> np.ndarray:
    return np.concatenate([np.arange(a, b) for a, b in segments if b > a] or [np.zeros(0, int)])


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def stretched_cc(ref: np.ndarray, cur: np.ndarray, idx: np.ndarray, eps: float) -> float:
    zero = len(ref) // 2
    s = interp_cubic(ref, zero + (idx - zero) * (1 + eps))
    return pearson(s, cur.astype(np.float64)[idx])


def stretching_one(ref: np.ndarray, cur: np.ndarray, segments: np.ndarray,
                   max_stretch: float, n_grid: int) -> tuple[float, float]:
    """Grid search, then the bounded maximum between the best point's neighbours."""
    idx = indices_of(segments)
    grid = np.linspace(-max_stretch, max_stretch, n_grid)
    cc = np.array([stretched_cc(ref, cur, idx, e) for e in grid])
    k = int(np.argmax(cc))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, n_grid - 1)]
    res = scipy.optimize.minimize_scalar(lambda e: -stretched_cc(ref, cur, idx, e),
                                         bounds=(lo, hi), method="bounded",
                                         options={"xatol": 1e-9})
    if -res.fun >= cc[k]:
        return float(res.x), float(-res.fun)
    return float(grid[k]), float(cc[k])


def smooth(x: np.ndarray, half: int) -> np.ndarray:
    """Hann-weighted running mean over 2*half+1 bins, renormalised at the ends."""
    w = np.hanning(2 * half + 3)[1:-1]
    num = np.convolve(x, w, mode="same")
    den = np.convolve(np.ones(len(x)), w, mode="same")
    return num / den


def mwcs_window(ref: np.ndarray, cur: np.ndarray, start: int, win: int, nfft: int,
                lo: int, hi: int, half: int, fs: float) -> tuple[float, float, float]:
    """Delay (s), error (s) and mean coherence of one window (Clarke et al. 2011)."""
    taper = np.hanning(win)
    a = ref[start:start + win].astype(np.float64)
    b = cur[start:start + win].astype(np.float64)
    fa = np.fft.rfft((a - a.mean()) * taper, nfft)
    fb = np.fft.rfft((b - b.mean()) * taper, nfft)
    cross = fa * np.conj(fb)
    sx = smooth(cross.real, half) + 1j * smooth(cross.imag, half)
    saa = smooth(np.abs(fa) ** 2, half)
    sbb = smooth(np.abs(fb) ** 2, half)
    band = slice(lo, hi + 1)
    coh = np.minimum(np.abs(sx[band]) / np.sqrt(saa[band] * sbb[band]), 1.0)
    c = np.minimum(coh, 0.99)
    w = c**2 / (1 - c**2)
    omega = 2 * np.pi * np.arange(lo, hi + 1) * fs / nfft
    phi = np.unwrap(np.angle(sx[band]))
    dt = np.sum(w * omega * phi) / np.sum(w * omega**2)
    misfit = np.sum((phi - omega * dt) ** 2) / (len(phi) - 1)
    err = np.sqrt(misfit * np.sum(w**2 * omega**2)) / np.sum(w * omega**2)
    return float(dt), float(err), float(coh.mean())


def wls_line(t: np.ndarray, y: np.ndarray, sigma: np.ndarray, intercept: bool,
             overlap: float = 1.0) -> tuple[float, float, float]:
    """(slope, slope error scaled by the reduced chi2 and the window overlap, intercept) by
    lstsq."""
    cols = [t, np.ones_like(t)] if intercept else [t]
    a = np.stack(cols, axis=1) / sigma[:, None]
    coef, *_ = np.linalg.lstsq(a, y / sigma, rcond=None)
    cov = np.linalg.inv(a.T @ a)
    resid = y / sigma - a @ coef
    dof = len(t) - len(cols)
    scale = float(resid @ resid) / dof * max(1.0, overlap)
    return float(coef[0]), float(np.sqrt(cov[0, 0] * scale)), float(coef[1]) if intercept else 0.0
