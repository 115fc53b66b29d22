"""Synthetic ambient noise with a known answer: a 2-D diffuse field and its theoretical correlation.

A diffuse field is modelled as many plane waves arriving from azimuths spread around the array,
each carrying independent Gaussian noise, all travelling at one velocity ``v``. For such a field
the cross-spectrum of two stations ``d`` apart, whitened, is ``J0(2π f d / v)`` (Aki 1957), so the
expected correlation is its inverse Fourier transform over the processing band: a symmetric
trace peaking slightly inside ``±d/v`` (by about an eighth of the dominant period).

For monitoring tests the medium can change: :func:`imposed_dvv` gives each day's relative
velocity change from a list of steps, and a day recorded at ``v (1 + dv/v)`` has its arrivals
at ``d / (v (1 + dv/v))``, which is what a dv/v measurement must recover.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.special

from c4 import kernels

__all__ = ["band_weights", "diffuse_field", "fit_velocity", "imposed_dvv", "peak_lags",
           "theoretical_correlation"]


def diffuse_field(
    coords_km: np.ndarray,
    fs: float,
    duration_s: float,
    velocity_km_s: float,
    *,
    n_sources: int = 400,
    band: tuple[float, float] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Records of a 2-D diffuse noise field at stations ``coords_km`` ((stations, 2), x/y in km).

    ``n_sources`` plane waves with azimuths stratified over 360° each carry independent complex
    Gaussian spectra; station ``k`` records wave ``s`` delayed by ``u_s · x_k / v`` seconds
    (``u_s`` its direction of travel). ``band`` = (fmin, fmax) in Hz limits the generated
    frequencies (faster; default: everything below Nyquist). Returns float32
    (stations, ``round(duration_s * fs)``), unit standard deviation per station.
    """
    coords = np.asarray(coords_km, float)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords_km: expected shape (stations, 2), got {coords.shape}")
    if velocity_km_s <= 0:
        raise ValueError(f"velocity_km_s: must be positive, got {velocity_km_s}")
    n = round(duration_s * fs)
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n, 1 / fs)
    lo, hi = band if band is not None else (0.0, fs / 2)
    keep = np.flatnonzero((freqs >= lo) & (freqs <= hi) & (freqs > 0))
    f = freqs[keep]
    azimuths = (np.arange(n_sources) + rng.random(n_sources)) * 2 * np.pi / n_sources
    directions = np.stack([np.sin(azimuths), np.cos(azimuths)], axis=1)  # x east, y north
    delays = coords @ directions.T / velocity_km_s  # (stations, sources) in s
    spectra = np.zeros((len(coords), len(f)), np.complex128)
    for s in range(n_sources):
        noise = rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))
        spectra += noise * np.exp(-2j * np.pi * f[None, :] * delays[:, s : s + 1])
    full = np.zeros((len(coords), len(freqs)), np.complex128)
    full[:, keep] = spectra
    records = np.fft.irfft(full, n=n, axis=1)
    records /= records.std(axis=1, keepdims=True)
    return records.astype(np.float32)


def band_weights(
    fs: float, nfft: int, freqmin: float, freqmax: float, taper_bins: int = 100
) -> tuple[np.ndarray, int]:
    """Band weights of the kept bins and the first kept bin, exactly as the whitening uses them."""
    ones = np.ones((1, nfft // 2 + 1), np.complex64)
    w, offset = kernels.whiten(ones, fs, nfft, freqmin, freqmax, freq_norm="none",
                               taper_bins=taper_bins)
    return w[0].real.astype(np.float64), offset


def theoretical_correlation(
    distance_km: float,
    velocity_km_s: float,
    fs: float,
    nfft: int,
    offset: int,
    weights: np.ndarray,
    maxlag: float,
) -> np.ndarray:
    """Expected correlation of two stations ``distance_km`` apart in a diffuse field.

    The inverse real FFT (length ``nfft``) of ``weights² · J0(2π f d / v)`` on the kept bins
    (``f = (offset + k) fs / nfft``), trimmed to ``-maxlag ..= maxlag`` with lag 0 in the middle,
    as :func:`c4.kernels.correlate` lays out its output. Units are arbitrary.
    """
    k = offset + np.arange(len(weights))
    spectrum = np.zeros(nfft // 2 + 1)
    spectrum[k] = weights**2 * scipy.special.j0(2 * np.pi * k * fs / nfft * distance_km
                                                 / velocity_km_s)
    trace = np.fft.irfft(spectrum, n=nfft)
    m = round(maxlag * fs)
    return np.concatenate([trace[nfft - m :], trace[: m + 1]])


def peak_lags(trace: np.ndarray, lags: np.ndarray) -> tuple[float, float]:
    """Lags in s of the largest sample at negative and at positive lags (acausal, causal)."""
    neg = lags < 0
    pos = lags > 0
    return float(lags[neg][np.argmax(trace[neg])]), float(lags[pos][np.argmax(trace[pos])])


def fit_velocity(distance_km: np.ndarray, lag_s: np.ndarray) -> tuple[float, float]:
    """Least-squares line ``lag = d / v + t0``; returns (v in km/s, t0 in s).

    The intercept absorbs the constant inward pull of band-limited peaks.
    """
    slope, intercept = np.polyfit(np.asarray(distance_km, float), np.asarray(lag_s, float), 1)
    return float(1 / slope), float(intercept)


def imposed_dvv(days: Sequence[dt.date], changes: Mapping[dt.date, float]) -> np.ndarray:
    """Relative velocity change of each of ``days`` (fraction of the initial velocity).

    ``changes`` maps a day to the dv/v that holds from that day on (until the next change):
    ``{date(2024, 1, 10): 0.01}`` is a 1 % faster medium from 10 January. Before the first
    change dv/v is 0. The medium's velocity on a day is ``v (1 + dv/v)``.
    """
    steps = sorted(changes.items())
    out = np.zeros(len(days))
    for k, day in enumerate(days):
        for when, value in steps:
            if day >= when:
                out[k] = float(value)
    return out
