"""Moving-window cross-spectral method (MWCS; Clarke, Zaccarelli, Shapiro & Brenguier 2011).

Step 1 (Rust, :func:`delays`): in windows of ``window`` s every ``step`` s across the lag
window(s), the delay ``δt`` of the current trace against the reference is the weighted slope of
the cross-spectral phase against angular frequency over the band, weights ``c²/(1 − c²)`` from
the coherence ``c``, error from the phase misfit (see :mod:`c4_kernels::dvv::mwcs` in the Rust
crate for the formulas). ``δt > 0``: the current trace arrives later.

Step 2 (:func:`dvv_from_delays`): per ``(pair, time)`` the windows with mean coherence
``>= min_coherence`` and ``|δt| <= max_dt`` give ``δt_k = a + (dt/t) t_k`` by weighted least
squares (weights ``1/e_k²``; ``a`` is a clock shift, or 0 with ``intercept=False``), and
``dv/v = −dt/t``. Its error is the slope error of a weighted fit with the scale taken from the
misfit, ``sqrt(χ²/(n − m) / Σ w (t − t̄)²)`` (``m`` fitted parameters): the window errors set the
relative weights, the scatter of the delays about the line sets the size. Overlapping windows
are not independent, so the error is multiplied by ``sqrt(window / step)`` (when above 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from c4 import _kernels
from c4.kernels import _array, fast_len

__all__ = ["MwcsResult", "delays", "dvv_from_delays", "mwcs", "window_starts"]


def window_starts(segments: np.ndarray, fs: float, window: float, step: float
                  ) -> np.ndarray:
    """Start indices (int64 ``(pairs, n_windows)``, −1 = none) of MWCS windows of ``window``
    s every ``step`` s inside each lag-index range of ``segments`` (``(pairs, n_seg, 2)``)."""
    win = round(window * fs)
    hop = max(1, round(step * fs))
    rows: list[list[int]] = []
    for pair in np.asarray(segments):
        starts: list[int] = []
        for a, b in pair:
            starts += list(range(int(a), int(b) - win + 1, hop))
        rows.append(starts)
    n = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(n, 1)), -1, np.int64)
    for p, r in enumerate(rows):
        out[p, :len(r)] = r
    return out


def delays(
    reference: np.ndarray, current: np.ndarray, starts: np.ndarray, *, fs: float,
    window: float, freqmin: float, freqmax: float, smooth_bins: int = 3,
    nfft: int | None = None, threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delay ``δt`` (s), its error (s) and the mean band coherence per
    ``(pair, time, window)`` (float64; NaN for unused windows).

    ``reference`` float32 ``(pairs, lags)``, ``current`` float32 ``(pairs, times, lags)``,
    ``starts`` from :func:`window_starts`; ``fs`` Hz; windows of ``window`` s zero-padded to
    ``nfft`` (default: the fast length >= twice the window); the band bins are those with
    ``freqmin <= f <= freqmax``; spectra smoothed over ``±smooth_bins`` bins.
    """
    reference = _array("reference", reference, np.float32, 2)
    current = _array("current", current, np.float32, 3)
    starts = _array("starts", np.ascontiguousarray(starts, np.int64), np.int64, 2)
    win = round(window * fs)
    n = nfft or fast_len(2 * win)
    lo = int(np.ceil(freqmin * n / fs - 1e-9))
    hi = int(np.floor(freqmax * n / fs + 1e-9))
    if not (1 <= lo < hi <= n // 2):
        raise ValueError(f"band {freqmin}-{freqmax} Hz: needs at least two bins of "
                         f"{fs / n:.4g} Hz below Nyquist ({fs / 2:g} Hz)")
    return _kernels.mwcs_delays(reference, current, starts, win, n, lo, hi, int(smooth_bins),
                                float(fs), threads)


class MwcsResult(NamedTuple):
    """dv/v from MWCS per ``(pair, time)``."""

    dvv: np.ndarray
    """dv/v = −dt/t (fraction)."""
    err: np.ndarray
    """Standard error of dv/v."""
    clock_shift: np.ndarray
    """Intercept ``a`` of the regression, s (0 without intercept)."""
    coherence: np.ndarray
    """Mean coherence of the windows used."""
    n_windows: np.ndarray
    """Windows used."""


def dvv_from_delays(
    dt: np.ndarray, err: np.ndarray, coherence: np.ndarray, centres: np.ndarray, *,
    min_coherence: float = 0.5, max_dt: float = 1.0, intercept: bool = True,
    overlap: float = 1.0,
) -> MwcsResult:
    """Weighted regression of the window delays against their lag (see the module).

    ``dt``, ``err``, ``coherence``: ``(pairs, times, windows)`` from :func:`delays`;
    ``centres``: ``(pairs, windows)`` lag in s at each window's centre (signed); ``overlap``:
    window length / step. NaN results where fewer than ``m + 2`` windows pass (``m`` = 2
    with intercept, else 1): the misfit needs at least one degree of freedom.
    """
    t = np.broadcast_to(np.asarray(centres, np.float64)[:, None, :], dt.shape)
    ok = (np.isfinite(dt) & np.isfinite(err) & (err > 0) & (coherence >= min_coherence)
          & (np.abs(dt) <= max_dt))
    w = np.where(ok, 1.0 / np.where(ok, err, 1.0) ** 2, 0.0)
    y = np.where(ok, dt, 0.0)
    x = np.where(ok, t, 0.0)
    n = ok.sum(axis=-1)
    m = 2 if intercept else 1
    sw = w.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if intercept:
            xm = (w * x).sum(-1) / sw
            ym = (w * y).sum(-1) / sw
        else:
            xm = ym = np.zeros(n.shape)
        dx = np.where(ok, x - xm[..., None], 0.0)
        sxx = (w * dx**2).sum(-1)
        slope = (w * dx * (y - ym[..., None])).sum(-1) / sxx
        a = ym - slope * xm
        chi2 = (w * (y - a[..., None] - slope[..., None] * x) ** 2 * ok).sum(-1)
        scale = chi2 / np.maximum(n - m, 1) * max(1.0, overlap)
        slope_err = np.sqrt(scale / sxx)
        coh = np.where(n > 0, (coherence * ok).sum(-1) / n, np.nan)
    bad = (n < m + 2) | ~(sxx > 0)
    nan = np.full(n.shape, np.nan)
    return MwcsResult(np.where(bad, nan, -slope), np.where(bad, nan, slope_err),
                      np.where(bad, nan, a if intercept else 0.0), coh, n)


def mwcs(
    reference: np.ndarray, current: np.ndarray, segments: np.ndarray, lags: np.ndarray, *,
    window: float, step: float, freqmin: float, freqmax: float, smooth_bins: int = 3,
    min_coherence: float = 0.5, max_dt: float = 1.0, intercept: bool = True,
    threads: int | None = None,
) -> MwcsResult:
    """dv/v per ``(pair, time)`` by MWCS on the lag ranges ``segments`` (as for
    :func:`c4.dvv.stretching.stretching`); ``lags`` in s."""
    lags = np.asarray(lags, np.float64)
    fs = 1.0 / float(np.median(np.diff(lags)))
    starts = window_starts(segments, fs, window, step)
    dt, err, coh = delays(reference, current, starts, fs=fs, window=window, freqmin=freqmin,
                          freqmax=freqmax, smooth_bins=smooth_bins, threads=threads)
    win = round(window * fs)
    centres = np.where(starts >= 0, lags[np.clip(starts, 0, None)] + (win - 1) / (2 * fs),
                       np.nan)
    return dvv_from_delays(dt, err, coh, centres, min_coherence=min_coherence, max_dt=max_dt,
                           intercept=intercept, overlap=window / step)
