"""Where on the lag axis dv/v is measured: lag windows per pair, branches and folding.

A pair's window spans absolute lags ``[t1, t2]`` in s with
``t1 = max(lag_min, lag_min_travel_times · τ)`` and
``t2 = min(lag_max, lag_max_travel_times · τ, t1 + lag_length)``, where ``τ = distance /
velocity`` is the inter-station travel time and a rule set to 0 is left out (``lag_max`` 0: the
correlation's ``maxlag``). The
``branch`` decides which side(s) are used: ``causal`` (``+t1 … +t2``: energy from source to
receiver), ``acausal`` (``−t2 … −t1``), ``both`` (the two together), or ``symmetric`` (the
average of the causal branch and the time-reversed acausal one, :func:`fold`, measured on
``+t1 … +t2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BRANCHES", "LagWindow", "fold", "lag_ranges", "segments"]

BRANCHES = ("both", "causal", "acausal", "symmetric")


@dataclass(frozen=True)
class LagWindow:
    """The lag-window rule (all times in s, absolute lags)."""

    lag_min: float = 5.0
    lag_min_travel_times: float = 0.0
    """Start at least this many travel times from zero lag (0: off)."""
    lag_max: float = 0.0
    """Window end (0: the largest lag present)."""
    lag_max_travel_times: float = 0.0
    """End at most this many travel times from zero lag (0: off)."""
    lag_length: float = 0.0
    """Longest window (0: off)."""
    velocity_km_s: float = 3.0
    branch: str = "both"

    def __post_init__(self) -> None:
        if self.branch not in BRANCHES:
            raise ValueError(f"branch: unknown value {self.branch!r}; allowed: "
                             f"{', '.join(BRANCHES)}")
        if min(self.lag_min, self.lag_min_travel_times, self.lag_max,
               self.lag_max_travel_times, self.lag_length) < 0:
            raise ValueError("lag window: every rule must be >= 0")
        if self.velocity_km_s <= 0:
            raise ValueError(f"velocity_km_s: must be positive, got {self.velocity_km_s}")


def lag_ranges(rule: LagWindow, distance_km: np.ndarray, maxlag: float) -> np.ndarray:
    """``(pairs, 2)`` absolute lag ranges ``[t1, t2]`` in s; NaN rows where the window does
    not fit below ``maxlag`` (s)."""
    tau = np.asarray(distance_km, np.float64) / rule.velocity_km_s
    t1 = np.maximum(rule.lag_min, rule.lag_min_travel_times * tau)
    t2 = np.full_like(t1, min(rule.lag_max, maxlag) if rule.lag_max > 0 else maxlag)
    if rule.lag_max_travel_times > 0:
        t2 = np.minimum(t2, rule.lag_max_travel_times * tau)
    if rule.lag_length > 0:
        t2 = np.minimum(t2, t1 + rule.lag_length)
    out = np.stack([t1, t2], axis=1)
    out[~(t2 > t1)] = np.nan
    return out


def fold(traces: np.ndarray, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average of the causal branch and the time-reversed acausal branch along the last axis:
    ``(…, lags ≥ 0)`` and those lags (s). ``lags`` must be symmetric about zero."""
    lags = np.asarray(lags, np.float64)
    zero = len(lags) // 2
    if len(lags) % 2 != 1 or not np.allclose(lags[::-1], -lags):
        raise ValueError("fold: the lag axis must be symmetric about 0 with an odd length")
    out = 0.5 * (traces[..., zero:] + traces[..., zero::-1])
    return out.astype(traces.dtype, copy=False), lags[zero:]


def segments(ranges_s: np.ndarray, lags: np.ndarray, branch: str) -> np.ndarray:
    """Lag-index ranges ``[start, stop)`` (int64, ``(pairs, 2, 2)``: negative then positive
    side) of the samples with ``t1 <= |lag| <= t2`` on the sides ``branch`` uses (for
    ``symmetric``, ``lags`` is the folded axis and only the positive side is used). Unused
    sides and NaN ranges are ``[0, 0)``."""
    lags = np.asarray(lags, np.float64)
    fs = 1.0 / float(np.median(np.diff(lags)))
    out = np.zeros((len(ranges_s), 2, 2), np.int64)
    use_neg = branch in ("both", "acausal")
    use_pos = branch in ("both", "causal", "symmetric")
    eps = 1e-6 / fs
    for p, (t1, t2) in enumerate(np.asarray(ranges_s, np.float64)):
        if not np.isfinite(t1) or not np.isfinite(t2):
            continue
        if use_pos:
            idx = np.flatnonzero((lags >= t1 - eps) & (lags <= t2 + eps))
            if idx.size:
                out[p, 1] = (idx[0], idx[-1] + 1)
        if use_neg:
            idx = np.flatnonzero((lags <= -t1 + eps) & (lags >= -t2 - eps))
            if idx.size:
                out[p, 0] = (idx[0], idx[-1] + 1)
    return out
