"""Stretching (Sens-Schönfelder & Wegler 2006) with the error of Weaver et al. (2011).

The reference ``r`` is stretched about zero lag, ``r(t (1 + ε))`` (cubic convolution), and
correlated (Pearson coefficient over the chosen lag samples) with each current trace for every
trial ``ε`` of the grid ``−max_stretch … +max_stretch``; the best trial is refined by golden-section
search between its grid neighbours. A velocity change turns an arrival at lag ``t`` into one at
``t / (1 + dv/v)``, so **the best ε is dv/v** (positive: faster medium, arrivals earlier) and
``dt/t = −dv/v``. The kernel runs in Rust over pairs and times on all cores
(:mod:`c4._kernels`).
"""

from __future__ import annotations

import numpy as np

from c4 import _kernels
from c4.kernels import _array

__all__ = ["stretch_cc", "stretching", "stretching_error"]


def _inputs(reference: np.ndarray, current: np.ndarray, segments: np.ndarray,
            lags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    reference = _array("reference", reference, np.float32, 2)
    current = _array("current", current, np.float32, 3)
    segments = _array("segments", segments, np.int64, 3)
    if segments.shape[0] != reference.shape[0] or segments.shape[2] != 2:
        raise ValueError(f"segments: shape {segments.shape}, expected "
                         f"({reference.shape[0]}, n_segments, 2)")
    lags = np.asarray(lags, np.float64)
    if lags.shape != (reference.shape[1],):
        raise ValueError(f"lags: {lags.shape} values for {reference.shape[1]} lags")
    zero = int(np.argmin(np.abs(lags)))
    if abs(lags[zero]) > 1e-9 * max(1.0, float(np.abs(lags).max())):
        raise ValueError("lags: no lag 0 on the axis (stretching is about lag 0)")
    return reference, current, segments, zero


def stretching(
    reference: np.ndarray, current: np.ndarray, segments: np.ndarray, lags: np.ndarray, *,
    max_stretch: float = 0.02, n_grid: int = 101, tolerance: float = 1e-7,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best stretch (= dv/v) and its correlation coefficient per ``(pair, time)``.

    ``reference``: float32 ``(pairs, lags)``; ``current``: float32 ``(pairs, times, lags)``;
    ``lags`` in s (must include 0; the full axis or a folded one). ``segments``: int64
    ``(pairs, n_segments, 2)`` lag-index ranges ``[start, stop)`` measured together
    (:func:`c4.dvv.lagwindow.segments`).
    Returns float64 ``(pairs, times)`` arrays; NaN where a pair has no samples or a trace is
    flat there. A result at ``±max_stretch`` means the true value may lie beyond the grid.
    """
    reference, current, segments, zero = _inputs(reference, current, segments, lags)
    return _kernels.stretching(reference, current, zero, segments, float(max_stretch),
                               int(n_grid), float(tolerance), threads)


def stretch_cc(reference: np.ndarray, current: np.ndarray, segments: np.ndarray,
               lags: np.ndarray, trials: np.ndarray, *, threads: int | None = None
               ) -> np.ndarray:
    """Correlation coefficient of the reference stretched by each of ``trials`` with each
    current trace: float64 ``(pairs, times, trials)`` (same inputs as :func:`stretching`)."""
    reference, current, segments, zero = _inputs(reference, current, segments, lags)
    trials = np.ascontiguousarray(trials, np.float64)
    return _kernels.stretch_cc(reference, current, zero, segments, trials, threads)


def stretching_error(cc: np.ndarray, freqmin: float, freqmax: float,
                     ranges_s: np.ndarray, n_sides: int | np.ndarray = 1) -> np.ndarray:
    """Standard error of the stretching dv/v (Weaver, Hadziioannou, Larose & Campillo 2011):

    ``σ = sqrt(1 − X²) / (2X) · sqrt(6 sqrt(π/2) T / (ω_c² (t2³ − t1³)))``

    with ``X`` the correlation coefficient after stretching (``cc``, ``(pairs, times)``),
    ``T = 1 / (freqmax − freqmin)`` s, ``ω_c = π (freqmin + freqmax)`` rad/s, and the lag
    window ``[t1, t2]`` in s (``ranges_s``, ``(pairs, 2)``, absolute lags); ``n_sides``
    windows measured together (2 for both branches) add their ``t2³ − t1³``. NaN where
    ``X <= 0``.
    """
    x = np.asarray(cc, np.float64)
    t1, t2 = np.asarray(ranges_s, np.float64).T
    span = (t2**3 - t1**3) * np.asarray(n_sides, np.float64)
    period = 1.0 / (freqmax - freqmin)
    wc = np.pi * (freqmin + freqmax)
    with np.errstate(invalid="ignore", divide="ignore"):
        shape = np.sqrt(6.0 * np.sqrt(np.pi / 2.0) * period / (wc**2 * span))[:, None]
        err = np.sqrt(np.clip(1.0 - x**2, 0.0, None)) / (2.0 * x) * shape
    return np.where(x > 0, err, np.nan)
