"""Network averages of dv/v: per time step, the inverse-variance weighted mean over pairs."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["NetworkMean", "network_mean"]


class NetworkMean(NamedTuple):
    """Weighted mean over pairs per time step (NaN where no pair has a value)."""

    dvv: np.ndarray
    err: np.ndarray
    n_pairs: np.ndarray


def network_mean(dvv: np.ndarray, err: np.ndarray) -> NetworkMean:
    """Mean of ``dvv`` ``(pairs, times)`` over pairs with weights ``1/err²``.

    Only finite values with ``err > 0`` count. The error is ``1/sqrt(Σ w)``, scaled by
    ``sqrt(χ²/(n − 1))`` when the pairs scatter more than their errors allow
    (``χ² = Σ w (dvv − mean)²``), so disagreeing pairs widen it.
    """
    x = np.asarray(dvv, np.float64)
    e = np.asarray(err, np.float64)
    ok = np.isfinite(x) & np.isfinite(e) & (e > 0)
    w = np.where(ok, 1.0 / np.where(ok, e, 1.0) ** 2, 0.0)
    x0 = np.where(ok, x, 0.0)
    n = ok.sum(axis=0)
    sw = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * x0).sum(axis=0) / sw
        chi2 = (w * (x0 - mean) ** 2).sum(axis=0)
        scale = np.where(n > 1, np.maximum(1.0, chi2 / np.maximum(n - 1, 1)), 1.0)
        sigma = np.sqrt(scale / sw)
    none = n == 0
    return NetworkMean(np.where(none, np.nan, mean), np.where(none, np.nan, sigma), n)
