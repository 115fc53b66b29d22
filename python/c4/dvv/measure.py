"""One call from correlations to dv/v: band-pass, lag windows, the chosen method, masks."""

from __future__ import annotations

from typing import Any

import numpy as np

from c4.dvv.config import DvvConfig
from c4.dvv.lagwindow import LagWindow, fold, lag_ranges, segments
from c4.dvv.mwcs import mwcs
from c4.dvv.stretching import stretching, stretching_error

__all__ = ["lag_window", "measure"]


def lag_window(settings: DvvConfig) -> LagWindow:
    """The lag-window rule of a ``[dvv]`` section."""
    s = settings
    return LagWindow(lag_min=s.lag_min, lag_min_travel_times=s.lag_min_travel_times,
                     lag_max=s.lag_max, lag_max_travel_times=s.lag_max_travel_times,
                     lag_length=s.lag_length, velocity_km_s=s.velocity_km_s, branch=s.branch)


def measure(
    reference: np.ndarray, current: np.ndarray, lags: np.ndarray, distance_km: np.ndarray,
    settings: DvvConfig, band: tuple[float, float], *, valid: np.ndarray | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """dv/v of ``current`` ``(pairs, times, lags)`` against ``reference`` ``(pairs, lags)``.

    Both are band-passed to ``band`` (Hz; zero-phase Butterworth, order 4), folded for
    ``branch = "symmetric"``, and measured with ``settings.method`` on each pair's lag window
    (:mod:`c4.dvv.lagwindow`). Traces with any NaN, and ``(pair, time)`` where ``valid`` is
    False, give NaN. Returns float64 arrays: ``dvv``, ``dvv_err``, ``cc`` (stretching: the
    correlation coefficient after stretching; MWCS: the mean coherence of the windows used) per
    ``(pair, time)``, ``lag_window`` ``(pair, 2)`` in s, and for MWCS ``clock_shift`` (s) and
    ``n_mwcs_windows``. No time step gives ``(pairs, 0)`` arrays.
    """
    from c4.plot import bandpass

    lags = np.asarray(lags, np.float64)
    fs = 1.0 / float(np.median(np.diff(lags)))
    cur_ok = np.isfinite(current).all(axis=-1)
    ref_ok = np.isfinite(reference).all(axis=-1)
    ok = cur_ok & ref_ok[:, None]
    if valid is not None:
        ok &= np.asarray(valid, bool)
    ref = bandpass(np.where(ref_ok[:, None], reference, 0.0), fs, band)
    cur = bandpass(np.where(cur_ok[..., None], current, 0.0), fs, band)
    if settings.branch == "symmetric":
        ref, used_lags = fold(ref, lags)
        cur, _ = fold(cur, lags)
    else:
        used_lags = lags
    ref32 = np.ascontiguousarray(ref, np.float32)
    cur32 = np.ascontiguousarray(np.where(ok[..., None], cur, 0.0), np.float32)
    ranges = lag_ranges(lag_window(settings), distance_km, float(lags[-1]))
    seg = segments(ranges, used_lags, settings.branch)
    out: dict[str, Any] = {"lag_window": ranges}
    if cur32.shape[1] == 0:  # no time step (a shard without window centres)
        names = ["dvv", "dvv_err", "cc"] + (["clock_shift"] if settings.method == "mwcs" else [])
        out.update({n: np.full(ok.shape, np.nan) for n in names})
        if settings.method == "mwcs":
            out["n_mwcs_windows"] = np.zeros(ok.shape, np.int64)
        return out
    if settings.method == "stretching":
        dvv, cc = stretching(ref32, cur32, seg, used_lags, max_stretch=settings.max_stretch,
                             n_grid=settings.stretch_steps, threads=threads)
        sides = 2 if settings.branch == "both" else 1
        out.update(dvv=dvv, dvv_err=stretching_error(cc, band[0], band[1], ranges, sides),
                   cc=cc)
    else:
        res = mwcs(ref32, cur32, seg, used_lags, window=settings.mwcs_window,
                   step=settings.mwcs_step, freqmin=band[0], freqmax=band[1],
                   smooth_bins=settings.mwcs_smooth_bins,
                   min_coherence=settings.mwcs_min_coherence, max_dt=settings.mwcs_max_dt,
                   intercept=settings.mwcs_intercept, threads=threads)
        out.update(dvv=res.dvv, dvv_err=res.err, cc=res.coherence, clock_shift=res.clock_shift,
                   n_mwcs_windows=res.n_windows.astype(np.int64))
    for name in ("dvv", "dvv_err", "cc", "clock_shift"):
        if name in out:
            out[name] = np.where(ok, out[name], np.nan)
    return out
