"""Straightforward numpy implementations of the kernels' documented formulas.

They favour clarity over speed and share no code with c4, so a kernel that agrees with them
agrees with its documentation.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal


def running_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred mean over ``[k - n//2, k + n//2]`` clipped at the ends, along the last axis."""
    h = n // 2
    out = np.empty(x.shape, np.float64)
    for k in range(x.shape[-1]):
        out[..., k] = x[..., max(0, k - h) : k + h + 1].mean(axis=-1)
    return out


def taper(length: int, fraction: float) -> np.ndarray:
    m = min(round(fraction * length), length // 2)
    w = np.ones(length)
    ramp = np.sin(np.pi / 2 * (np.arange(m) + 0.5) / m) ** 2 if m else np.zeros(0)
    w[:m] = ramp
    w[length - m :] = ramp[::-1]
    return w


def detrend(x: np.ndarray) -> np.ndarray:
    t = np.arange(x.shape[-1])
    coef = np.polynomial.polynomial.polyfit(t, x.astype(np.float64).T, 1)
    return x - (coef[0][..., None] + coef[1][..., None] * t).reshape(x.shape)


def windows(data: np.ndarray, win: int, hop: int, fraction: float):
    """Windows (channels, windows, samples), std and max/std after detrend, then tapered."""
    n_win = (data.shape[1] - win) // hop + 1
    cut = np.stack([data[:, w * hop : w * hop + win] for w in range(n_win)], axis=1)
    flat = detrend(cut.reshape(-1, win).astype(np.float64)).reshape(cut.shape)
    std = np.sqrt((flat**2).mean(axis=-1))
    ratio = np.abs(flat).max(axis=-1) / std
    return flat, std, ratio, flat * taper(win, fraction)


def time_normalize(x: np.ndarray, method: str, smooth_n: int = 1, clip_std: float = 3.0):
    x = x.astype(np.float64)
    if method == "none":
        return x
    if method == "one_bit":
        return np.sign(x)
    if method == "rma":
        m = running_mean(np.abs(x), smooth_n)
        return np.divide(x, m, out=np.zeros_like(x), where=m > 0)
    if method == "clip":
        lim = clip_std * x.std(axis=-1, keepdims=True)
        return np.clip(x, -lim, lim)
    raise ValueError(method)


def band(fs: float, nfft: int, freqmin: float, freqmax: float, taper_bins: int):
    lo = int(np.ceil(freqmin * nfft / fs))
    hi = int(np.floor(freqmax * nfft / fs))
    start = max(lo - taper_bins, 1)
    end = min(hi + taper_bins, nfft // 2 - 1)
    k = np.arange(start, end + 1)
    d = np.where(k < lo, lo - k, np.maximum(k - hi, 0))
    return start, np.cos(np.pi * d / (2 * (taper_bins + 1))) ** 2


def whiten(spec, fs, nfft, freqmin, freqmax, freq_norm, smoothspect_n, taper_bins):
    start, w = band(fs, nfft, freqmin, freqmax, taper_bins)
    sel = slice(start, start + len(w))
    if freq_norm == "none":
        a = np.ones(spec.shape)
    elif freq_norm == "phase_only":
        a = np.abs(spec)
    else:
        a = running_mean(np.abs(spec), smoothspect_n)
    out = np.divide(spec, a, out=np.zeros(spec.shape, complex), where=a > 0)
    return out[..., sel] * w, start


def correlate(spec, valid, offset, nfft, pairs, maxlag_n, method="xcorr", substack=0,
              smoothspect_n=1):
    """(pairs, groups, lags) correlations and counts by the documented formula."""
    spec = spec.astype(np.complex128) * valid[..., None]
    if method == "coherency":
        a = running_mean(np.abs(spec), smoothspect_n)
        src = rcv = np.divide(spec, a, out=np.zeros_like(spec), where=a > 0)
    elif method == "deconv":
        a = running_mean(np.abs(spec) ** 2, smoothspect_n)
        src, rcv = np.divide(spec, a, out=np.zeros_like(spec), where=a > 0), spec
    else:
        src = rcv = spec
    n_win = spec.shape[1]
    step = substack if 0 < substack < n_win else n_win
    groups = [(w, min(w + step, n_win)) for w in range(0, n_win, step)]
    out = np.zeros((len(pairs), len(groups), 2 * maxlag_n + 1))
    counts = np.zeros((len(pairs), len(groups)), int)
    for p, (i, j) in enumerate(pairs):
        for g, (w0, w1) in enumerate(groups):
            n = int((valid[i, w0:w1] & valid[j, w0:w1]).sum())
            counts[p, g] = n
            if n == 0:
                continue
            half = np.zeros(nfft // 2 + 1, complex)
            half[offset : offset + spec.shape[2]] = (
                np.conj(src[i, w0:w1]) * rcv[j, w0:w1]
            ).sum(axis=0)
            trace = scipy.fft.irfft(half, n=nfft) / n
            out[p, g] = np.concatenate([trace[nfft - maxlag_n :], trace[: maxlag_n + 1]])
    return out, counts


def pws(x: np.ndarray, power: float) -> np.ndarray:
    analytic = scipy.signal.hilbert(x, axis=-1)
    phasor = analytic / np.where(np.abs(analytic) > 0, np.abs(analytic), 1)
    return x.mean(axis=-2) * np.abs(phasor.mean(axis=-2)) ** power


def nroot(x: np.ndarray, n: float) -> np.ndarray:
    y = (np.sign(x) * np.abs(x) ** (1 / n)).mean(axis=-2)
    return np.sign(y) * np.abs(y) ** n


def robust(x: np.ndarray, epsilon: float = 1e-6, max_iter: int = 10):
    """One pair's robust stack and weights, (time, lags) input."""
    x = x.astype(np.float64)
    s = np.median(x, axis=0)
    norms = np.linalg.norm(x, axis=1)
    w = np.full(len(x), 1 / len(x))
    for _ in range(max_iter):
        sn = np.linalg.norm(s)
        if sn == 0:
            break
        c = x @ s / sn
        r = np.sqrt(np.maximum(norms**2 - c**2, 0))
        r = np.maximum(r, 1e-6 * norms)
        w = np.abs(c) / (norms * r)
        w /= w.sum()
        new = w @ x
        change = np.abs(new - s).sum() / (np.linalg.norm(new) * x.shape[1])
        s = new
        if change < epsilon:
            break
    return s, w


# ----------------------------------------------------------------- day pass, PCC, tf-PWS, selective
def butter_gain(f: np.ndarray, fmin: float, fmax: float, corners: int = 4) -> np.ndarray:
    """|H|² of an analog Butterworth band-pass (zero phase: applied forwards and backwards)."""
    f = np.asarray(f, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (f**2 - fmin * fmax) / (f * (fmax - fmin))
        g = 1 / (1 + np.abs(x) ** (2 * corners))
    return np.where(f > 0, g, 0.0)


def bandpass_day(x: np.ndarray, fs: float, fmin: float, fmax: float) -> np.ndarray:
    """Zero-phase band-pass of whole records (last axis) in the frequency domain, with ten
    periods of ``fmin`` of zero padding."""
    n = x.shape[-1]
    nfft = scipy.fft.next_fast_len(n + int(np.ceil(10 * fs / fmin)))
    spec = np.fft.rfft(x.astype(np.float64), nfft)
    spec *= butter_gain(np.fft.rfftfreq(nfft, 1 / fs), fmin, fmax)
    return np.fft.irfft(spec, nfft)[..., :n]


def band_qc(data, fs, win, hop, band):
    """Per-window (max|y|/rms_window(y), max|y|/std_day(y)) of the band-passed records ``y``."""
    y = bandpass_day(data, fs, *band)
    n_win = (data.shape[1] - win) // hop + 1
    cut = np.stack([y[:, w * hop : w * hop + win] for w in range(n_win)], axis=1)
    peak = np.abs(cut).max(axis=-1)
    rms = np.sqrt((cut**2).mean(axis=-1))
    return peak / rms, peak / y.std(axis=-1, keepdims=True)


def pcc2(phi_a: np.ndarray, phi_b: np.ndarray, maxlag: int) -> np.ndarray:
    """Schimmel (1999) phase cross-correlation with exponent 2 of two unit-phasor series of one
    window, computed straight from the definition,
    ``PCC(τ) = 1/(2N) Σ_t (|φ_a(t) + φ_b(t+τ)|² − |φ_a(t) − φ_b(t+τ)|²)`` over the samples
    both series have, halved so that identical series give 1 at τ = 0."""
    n = len(phi_a)
    out = np.zeros(2 * maxlag + 1)
    for i, tau in enumerate(range(-maxlag, maxlag + 1)):
        t = np.arange(max(0, -tau), min(n, n - tau))
        a, b = phi_a[t], phi_b[t + tau]
        out[i] = (np.abs(a + b) ** 2 - np.abs(a - b) ** 2).sum() / (2 * n) / 2
    return out


def s_transform(x: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Discrete S-transform (Stockwell et al. 1996) of a real series at frequency indices
    ``ks`` (>= 1): ``S[k, τ] = ifft_m(X[m + k] exp(-2π² m²/k²))``, m in (-N/2, N/2]."""
    n = len(x)
    spec = np.fft.fft(x.astype(np.float64))
    m = np.fft.fftfreq(n, 1 / n)
    m[m == -n / 2] = n / 2
    return np.array([np.fft.ifft(np.roll(spec, -k) * np.exp(-2 * np.pi**2 * m**2 / k**2))
                     for k in ks])


def _five_smooth(m: int) -> bool:
    for p in (2, 3, 5):
        while m % p == 0:
            m //= p
    return m == 1


def tfpws(x: np.ndarray, power: float, fmin: float, fmax: float) -> np.ndarray:
    """Time-frequency PWS of one pair's (time, lags) traces (Schimmel & Gallart 2007), zero-
    padded to the next 5-smooth length, over the frequency indices covering fmin..fmax cycles
    per sample; cut back to the traces' length."""
    n_lags = x.shape[1]
    n = next(m for m in range(n_lags, 2 * n_lags + 2) if _five_smooth(m))
    x = np.pad(x, ((0, 0), (0, n - n_lags)))
    lo, hi = int(np.ceil(fmin * n - 1e-4)), int(np.floor(fmax * n + 1e-4))
    ks = np.arange(max(1, lo), min(n // 2, hi) + 1)
    s = np.array([s_transform(t, ks) for t in x])  # (time, k, τ)
    coherence = np.abs((s / np.where(np.abs(s) > 0, np.abs(s), 1)).mean(axis=0))
    weighted = (coherence**power * s.mean(axis=0)).sum(axis=1)  # Σ_τ: inverse S-transform
    half = np.zeros(n // 2 + 1, complex)
    half[ks] = weighted
    return np.fft.irfft(half, n)[:n_lags]


def selective(x: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the traces (time, lags) whose correlation coefficient with the mean is >=
    ``threshold``, and the kept mask."""
    ref = x.mean(axis=0)
    r = x @ ref / (np.linalg.norm(x, axis=1) * np.linalg.norm(ref))
    keep = r >= threshold
    return (x[keep].mean(axis=0) if keep.any() else np.zeros(x.shape[1])), keep
