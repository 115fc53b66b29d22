"""Numerical kernels of c4: window spectra, whitening, cross-correlation and stacking.

The heavy lifting runs in Rust on all cores with the GIL released (``c4._kernels``); this
module checks arguments, converts seconds to samples and names the results.

Conventions
-----------
- Records are ``float32`` arrays of shape ``(channels, samples)`` sampled at ``fs`` Hz.
- Spectra keep only the in-band bins: bin ``k`` of a window spectrum is frequency
  ``(offset + k) * fs / nfft`` Hz.
- ``correlate`` returns ``C_ij(τ) = mean over windows of x_i(t) x_j(t + τ)`` (of the whitened
  windows), lag 0 in the middle: **a positive lag means energy travelling from the source
  (first channel of a pair) to the receiver (second)**. A receiver recording the source
  delayed by ``k`` samples peaks at lag ``+k / fs`` seconds.

Arrays must already have the right dtype and be C-contiguous: nothing is copied silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from c4 import _kernels
from c4._kernels import KernelError

__all__ = [
    "CC_METHODS",
    "FREQ_NORMS",
    "REJECTIONS",
    "SPECTRA_TIME_NORMS",
    "STACK_METHODS",
    "TIME_NORMS",
    "Correlations",
    "KernelError",
    "LinearAccumulator",
    "PwsAccumulator",
    "Spectra",
    "WindowQc",
    "correlate",
    "fast_len",
    "lags",
    "phase_sum",
    "spectra",
    "stack",
    "stack_ragged",
    "time_normalize",
    "whiten",
    "windows",
]

TIME_NORMS = ("none", "one_bit", "rma", "clip")
SPECTRA_TIME_NORMS = (*TIME_NORMS, "multiband")
FREQ_NORMS = ("none", "rma", "phase_only")
CC_METHODS = ("xcorr", "coherency", "deconv", "pcc")
STACK_METHODS = ("linear", "pws", "robust", "nroot", "tfpws", "selective")
REJECTIONS: tuple[str, ...] = tuple(_kernels.REJECTIONS)
"""Reasons a window fails QC, indexed by :attr:`Spectra.rejection` (0, ``valid``, passed)."""


def _array(name: str, x: object, dtype: type, ndim: int, *, finite: bool = True) -> np.ndarray:
    """Check that ``x`` is a C-contiguous, non-empty, finite ``dtype`` array of ``ndim`` dims."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(x).__name__}")
    if x.dtype != np.dtype(dtype):
        raise TypeError(
            f"{name}: expected dtype {np.dtype(dtype)}, got {x.dtype}; convert with "
            f"np.ascontiguousarray({name}, dtype=np.{np.dtype(dtype).name})"
        )
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name}: array is empty (shape {x.shape})")
    if not x.flags.c_contiguous:
        raise TypeError(f"{name}: array must be C-contiguous; use np.ascontiguousarray({name})")
    if finite and not _finite(x):
        raise ValueError(f"{name}: contains NaN or Inf")
    return x


def _finite(x: np.ndarray) -> bool:
    """Whether a C-contiguous array holds no NaN or Inf: float32 and complex64 data are read
    by the kernels on all cores (a day of records is gigabytes), integers and booleans are
    finite by type."""
    if x.dtype.kind in "biu":
        return True
    if x.dtype in (np.float32, np.complex64):
        return bool(_kernels.all_finite(x.view(np.float32)))
    return bool(np.isfinite(x).all())


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value!r}; allowed values: {', '.join(allowed)}")
    return value


def _positive(name: str, value: float) -> float:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name}: must be a positive number, got {value!r}")
    return float(value)


def _samples(name: str, seconds: float, fs: float) -> int:
    n = seconds * fs
    if not np.isfinite(n) or n < 0 or abs(n - round(n)) > 1e-6:
        raise ValueError(f"{name}: {seconds} s is not a whole number of samples at {fs} Hz")
    return round(n)


def fast_len(n: int) -> int:
    """Smallest length ``>= n`` whose prime factors are 2, 3 and 5 (a fast FFT length).

    >>> fast_len(36000 + 4000), fast_len(97)
    (40000, 100)
    """
    return int(_kernels.fast_len(int(n)))


def lags(maxlag: float, fs: float) -> np.ndarray:
    """Lag axis in seconds, ``-maxlag ..= maxlag`` in steps of ``1/fs`` (``2*maxlag*fs+1`` lags).

    >>> lags(1.0, 2.0)
    array([-1. , -0.5,  0. ,  0.5,  1. ])
    """
    m = _samples("maxlag", maxlag, fs)
    return np.arange(-m, m + 1) / fs


class WindowQc(NamedTuple):
    """Quality statistics per ``(channel, window)``.

    ``std`` is measured on the detrended window; the peak ratios on the QC signal ``y``: the
    detrended window, or the day record band-passed to ``qc_band`` and cut to the window.
    """

    std: np.ndarray
    """Standard deviation of the detrended window in data units (0 for a flat window)."""
    max_ratio: np.ndarray
    """max|y| / std(y) over the window (inf for a flat window)."""
    max_over_std: np.ndarray
    """max|y| over the window / std of ``y`` over the day's covered samples: NoisePy's
    ``max_over_std`` (inf where the day's level was not measured)."""
    gap_fraction: np.ndarray
    """Share of samples flagged as gaps, in [0, 1]."""


def windows(
    data: np.ndarray,
    fs: float,
    cc_len: float,
    step: float,
    *,
    taper_fraction: float = 0.05,
    gaps: np.ndarray | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, WindowQc]:
    """Cut records into windows and prepare each one: linear detrend (removes the mean too),
    QC statistics, then a cosine taper over ``taper_fraction`` of the window at each end
    (``w[k] = sin²(π/2 · (k + ½)/m)``).

    Parameters
    ----------
    data : float32 array (channels, samples)
    fs : sampling rate in Hz
    cc_len, step : window length and spacing of window starts, in s (whole samples)
    gaps : optional bool array like ``data``, True where the raw record had no data; without
        it, runs of at least one second of exact zeros (zero-filled gaps) count as gaps

    Returns
    -------
    windows : float32 array (channels, windows, samples per window)
    qc : :class:`WindowQc` of (channels, windows) arrays (``max_over_std`` is inf: it needs
        the day's level, which :func:`spectra` measures)
    """
    data = _array("data", data, np.float32, 2)
    fs = _positive("fs", fs)
    if gaps is not None:
        gaps = _array("gaps", gaps, np.bool_, 2)
    win = _samples("cc_len", cc_len, fs)
    hop = _samples("step", step, fs)
    zero_run = max(2, round(fs))
    out, qc = _kernels.windows(data, win, hop, taper_fraction, zero_run, gaps, threads)
    return out, WindowQc(*qc)


def time_normalize(
    x: np.ndarray,
    method: str,
    *,
    smooth_n: int = 1,
    clip_std: float = 3.0,
    threads: int | None = None,
) -> np.ndarray:
    """Time-domain normalisation of each row of ``x`` (float32, (rows, samples)).

    ``one_bit``: sign(x). ``rma``: x divided by the centred running mean of |x| over
    ``smooth_n`` samples (window ``[k - smooth_n//2, k + smooth_n//2]`` clipped at the ends).
    ``clip``: clamp at ±``clip_std`` standard deviations. ``none``: a copy of x.
    """
    x = _array("x", x, np.float32, 2)
    _choice("time_norm", method, TIME_NORMS)
    return _kernels.time_normalize(x, method, int(smooth_n), float(clip_std), threads)


def whiten(
    spectra: np.ndarray,
    fs: float,
    nfft: int,
    freqmin: float,
    freqmax: float,
    *,
    freq_norm: str = "rma",
    smoothspect_n: int = 1,
    taper_bins: int = 100,
    threads: int | None = None,
) -> tuple[np.ndarray, int]:
    """Whiten half-spectra (complex64, (rows, nfft//2+1)) and keep the band.

    Bins ``lo = ceil(freqmin·nfft/fs) ..= hi = floor(freqmax·nfft/fs)`` keep weight 1;
    ``taper_bins`` bins on each side get ``cos²(π d / (2 (taper_bins + 1)))`` at distance ``d``
    from the band edge; DC and Nyquist are dropped. ``rma`` divides by the centred running
    mean of |X| over ``smoothspect_n`` bins, ``phase_only`` by |X|, ``none`` by 1.

    Returns the kept bins (rows, n_bins) and the index of the first kept bin.
    """
    spectra = _array("spectra", spectra, np.complex64, 2)
    _choice("freq_norm", freq_norm, FREQ_NORMS)
    out, offset = _kernels.whiten(
        spectra, float(fs), int(nfft), float(freqmin), float(freqmax), int(taper_bins),
        freq_norm, int(smoothspect_n), threads,
    )
    return out, int(offset)


@dataclass(frozen=True)
class Spectra:
    """Whitened in-band window spectra of a day of records.

    The spectra are held in the kernels' packed layout (``packed``), which the correlation
    reads without copying: for each chunk of ``LANES`` consecutive kept bins and each window,
    ``LANES`` real parts then ``LANES`` imaginary parts. :attr:`data` gives the usual
    ``(channels, windows, bins)`` complex view (a copy).
    """

    packed: np.ndarray
    """float32 (channels, bin chunks, windows, 2 * LANES); windows that failed QC are zero."""
    n_bins: int
    """Kept bins per window."""
    valid: np.ndarray
    """bool (channels, windows): passed QC (not flat, not spiky, not too gappy)."""
    qc: WindowQc
    offset: int
    """Half-spectrum index of the first kept bin."""
    nfft: int
    """FFT length in samples (a window plus ``maxlag`` of zero padding, rounded up)."""
    fs: float
    """Sampling rate in Hz."""
    rejection: np.ndarray | None = None
    """uint8 (channels, windows): why each window failed QC, an index into
    :data:`REJECTIONS` (0: passed); None for spectra made elsewhere."""
    muted: np.ndarray | None = None
    """uint64 (channels,): samples set to zero by the transient mute."""
    phase: bool = False
    """The spectra are phase spectra for ``cc_method="pcc"``: all ``nfft`` bins of the complex
    FFT of each window's unit phasor, ``offset`` 0."""

    def rejected_counts(self) -> list[dict[str, int]]:
        """Per channel, the number of windows rejected for each reason of :data:`REJECTIONS`
        (``valid`` left out; every reason is present, 0 if none); empty counts for spectra
        made elsewhere."""
        if self.rejection is None:
            return [{} for _ in range(self.valid.shape[0])]
        counts = np.stack([np.bincount(r, minlength=len(REJECTIONS)) for r in self.rejection])
        return [{name: int(row[i]) for i, name in enumerate(REJECTIONS) if i}
                for row in counts]

    @property
    def data(self) -> np.ndarray:
        """complex64 (channels, windows, bins) copy of the spectra."""
        return _kernels.unpack(self.packed, self.n_bins)

    @property
    def freqs(self) -> np.ndarray:
        """Frequency in Hz of each kept bin."""
        return (self.offset + np.arange(self.n_bins)) * self.fs / self.nfft

    @classmethod
    def from_complex(
        cls, data: np.ndarray, valid: np.ndarray, *, offset: int, nfft: int, fs: float
    ) -> Spectra:
        """Spectra from complex64 (channels, windows, bins) arrays, e.g. computed elsewhere."""
        data = _array("data", data, np.complex64, 3)
        valid = _array("valid", valid, np.bool_, 2)
        if valid.shape != data.shape[:2]:
            raise ValueError(f"valid: shape {valid.shape} differs from {data.shape[:2]}")
        zeros = np.zeros(valid.shape, np.float32)
        qc = WindowQc(zeros, zeros, zeros, zeros)
        return cls(_kernels.pack(data), data.shape[2], valid, qc, int(offset), int(nfft),
                   float(fs))


def _band(name: str, band: tuple[float, float] | None) -> tuple[float, float] | None:
    if band is None:
        return None
    lo, hi = (float(v) for v in band)
    if not (0 < lo < hi):
        raise ValueError(f"{name}: expected (fmin, fmax) Hz with 0 < fmin < fmax, got {band}")
    return lo, hi


def spectra(
    data: np.ndarray,
    fs: float,
    *,
    cc_len: float,
    step: float,
    maxlag: float,
    freqmin: float,
    freqmax: float,
    gaps: np.ndarray | None = None,
    taper_fraction: float = 0.05,
    taper_s: float | None = None,
    taper_bins: int = 100,
    time_norm: str = "none",
    smooth_n: int = 1,
    clip_std: float = 3.0,
    rma_band: tuple[float, float] | None = None,
    multiband_n: int = 4,
    mute_factor: float | None = None,
    mute_band: tuple[float, float] | None = None,
    freq_norm: str = "rma",
    smoothspect_n: int = 1,
    max_gap_fraction: float = 0.0,
    max_std_ratio: float = float("inf"),
    max_over_std: float = float("inf"),
    qc_band: tuple[float, float] | None = None,
    phase: bool = False,
    threads: int | None = None,
) -> Spectra:
    """Whitened window spectra of day records (float32, (channels, samples) at ``fs`` Hz).

    Each ``cc_len``-second window (a new one every ``step`` s) is detrended, measured for QC,
    time-normalised (``time_norm``), tapered (``taper_s`` seconds at each end, else
    ``taper_fraction`` of the window), zero-padded to ``nfft`` (the smallest 5-smooth length
    >= window + ``maxlag``), transformed and whitened (see :func:`whiten`).

    Day pass (per channel, before windowing; band-passes are zero-phase 4-corner Butterworth
    magnitudes applied in the frequency domain to the whole day, see ``bandpass.rs``):

    - ``qc_band`` (Hz): the peak ratios of :class:`WindowQc` are measured on the day record
      band-passed to it (``None``: on the detrended window itself);
    - ``rma_band`` (Hz): ``time_norm="rma"`` divides each window by the running mean of |x_b|
      of the record band-passed to it (Bensen et al. 2007; ``None``: of the window itself);
      ``time_norm="multiband"`` sums ``x_b / runmean(|x_b|)`` over ``multiband_n`` log-spaced
      sub-bands of ``rma_band`` (default the processing band), each smoothed over half its
      longest period and at least ``smooth_n`` samples;
    - ``mute_factor``: samples where the envelope of the record band-passed to ``mute_band``
      (default ``freqmin..freqmax``) exceeds ``mute_factor`` times its day median are set to
      zero, with half a period of the band's lower corner on each side (:attr:`Spectra.muted`).

    A window is valid unless (the first reason applies, :attr:`Spectra.rejection`) its share of
    gap samples (``gaps``, True = missing; without a mask, runs of at least one second of exact
    zeros) exceeds ``max_gap_fraction``, its std is 0, ``max_ratio`` exceeds ``max_std_ratio``
    or ``max_over_std`` exceeds ``max_over_std``; invalid windows' spectra are zero.

    ``phase=True`` makes phase spectra for ``cc_method="pcc"`` (:attr:`Spectra.phase`).
    """
    data = _array("data", data, np.float32, 2)
    fs = _positive("fs", fs)
    if gaps is not None:
        gaps = _array("gaps", gaps, np.bool_, 2)
        if gaps.shape != data.shape:
            raise ValueError(f"gaps: shape {gaps.shape} differs from data {data.shape}")
    _choice("time_norm", time_norm, SPECTRA_TIME_NORMS)
    _choice("freq_norm", freq_norm, FREQ_NORMS)
    if taper_s is not None:
        _samples("taper_s", taper_s, fs)
        taper_fraction = taper_s / cc_len
    if mute_factor is not None and not (np.isfinite(mute_factor) and mute_factor > 1):
        raise ValueError(f"mute_factor: must be a number > 1, got {mute_factor!r}")
    packed, n_bins, valid, qc, rejection, muted, offset, nfft = _kernels.spectra(
        data, fs, float(cc_len), float(step), float(maxlag), float(freqmin), float(freqmax),
        gaps=gaps, taper_fraction=float(taper_fraction), taper_bins=int(taper_bins),
        time_norm=time_norm, smooth_n=int(smooth_n), clip_std=float(clip_std),
        freq_norm=freq_norm, smoothspect_n=int(smoothspect_n),
        max_gap_fraction=float(max_gap_fraction), max_std_ratio=float(max_std_ratio),
        max_over_std=float(max_over_std), qc_band=_band("qc_band", qc_band),
        rma_band=_band("rma_band", rma_band), multiband_n=int(multiband_n),
        mute_factor=None if mute_factor is None else float(mute_factor),
        mute_band=_band("mute_band", mute_band), phase=bool(phase), threads=threads,
    )
    return Spectra(packed, int(n_bins), valid, WindowQc(*qc), int(offset), int(nfft), fs,
                   rejection, muted, bool(phase))


class Correlations(NamedTuple):
    """Correlations of many pairs."""

    data: np.ndarray
    """float32 (pairs, groups, lags): one group per sub-stack (one if ``substack=0``)."""
    counts: np.ndarray
    """uint32 (pairs, groups): windows stacked; 0 means no common valid window (all zeros)."""
    lags: np.ndarray
    """Lag of each sample in s (positive: source to receiver)."""


def correlate(
    spectra: Spectra,
    pairs: np.ndarray,
    maxlag: float,
    *,
    cc_method: str = "xcorr",
    substack: int = 0,
    smoothspect_n: int = 1,
    threads: int | None = None,
) -> Correlations:
    """Cross-correlate ``pairs`` (int64, (pairs, 2): source and receiver channel indices).

    ``C_ij(τ) = irfft(Σ_w conj(A_iw) B_jw)(τ) / (nfft · n_ij)`` over the windows valid on both
    channels, one inverse FFT per pair and group, trimmed to ``-maxlag ..= maxlag``
    (``2·maxlag·fs + 1`` samples, lag 0 in the middle). ``xcorr``: A = B = S; ``coherency``:
    A = B = S / running-mean(|S|); ``deconv``: A = S / running-mean(|S|²), B = S (running means
    over ``smoothspect_n`` kept bins). ``pcc`` (needs ``spectra(..., phase=True)``): the phase
    cross-correlation PCC2 (Ventosa et al. 2019), ``mean_t Re(conj φ_i(t) φ_j(t + τ))`` with
    φ the unit phasor of each whitened window's analytic signal, averaged over windows (1 at
    lag 0 for identical windows). ``substack`` > 0 stacks every ``substack`` consecutive
    windows separately.
    """
    pairs = _array("pairs", pairs, np.int64, 2)
    if pairs.shape[1] != 2:
        raise ValueError(f"pairs: expected shape (n_pairs, 2), got {pairs.shape}")
    n_channels = spectra.packed.shape[0]
    if pairs.min() < 0 or pairs.max() >= n_channels:
        raise ValueError(f"pairs: channel indices must lie in [0, {n_channels})")
    _choice("cc_method", cc_method, CC_METHODS)
    if (cc_method == "pcc") != spectra.phase:
        raise ValueError(f"cc_method: {cc_method} needs spectra computed with "
                         f"phase={cc_method == 'pcc'}")
    if substack < 0:
        raise ValueError(f"substack: must be >= 0 windows, got {substack}")
    m = _samples("maxlag", maxlag, spectra.fs)
    valid = _array("valid", spectra.valid, np.bool_, 2)
    data, counts = _kernels.correlate(
        spectra.packed, spectra.n_bins, valid, spectra.offset, spectra.nfft, pairs, m,
        cc_method=cc_method, substack=int(substack), smoothspect_n=int(smoothspect_n),
        phase=spectra.phase, threads=threads,
    )
    return Correlations(data, counts, np.arange(-m, m + 1) / spectra.fs)


def stack(
    x: np.ndarray,
    method: str = "linear",
    *,
    pws_power: float = 2.0,
    robust_epsilon: float = 1e-6,
    robust_max_iter: int = 10,
    nroot_power: float = 2.0,
    tfpws_band: tuple[float, float] = (0.0, 0.5),
    selective_threshold: float = 0.0,
    return_weights: bool = False,
    threads: int | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Stack traces along time: ``x`` is float32 (pairs, time, lags), the result (pairs, lags).

    - ``linear``: the mean.
    - ``pws``: phase-weighted stack (Schimmel & Paulssen 1997), the mean times
      ``|mean_t exp(iφ_t)|^pws_power`` with φ the phase of the analytic signal.
    - ``robust``: Pavlis & Vernon (2010): start from the median; weights
      ``|d·ŝ| / (|d| |d − (d·ŝ)ŝ|)`` normalised to sum 1; iterate until the L1 change over
      (L2 norm × lags) < ``robust_epsilon`` or ``robust_max_iter`` iterations.
    - ``nroot``: ``sign(y)|y|^n`` with ``y = mean(sign(x)|x|^(1/n))``, n = ``nroot_power``.
    - ``tfpws``: time-frequency phase-weighted stack (Schimmel & Gallart 2007): the linear
      stack's S-transform weighted by ``|mean_t S_t/|S_t||^pws_power`` and transformed back;
      the traces are zero-padded to the next 5-smooth length first (see :func:`fast_len`) and
      only the frequencies in ``tfpws_band`` (cycles per sample, i.e. Hz / fs) are computed:
      the result holds no others.
    - ``selective``: NoisePy's selective stack, the mean of the traces whose correlation
      coefficient with the linear stack is >= ``selective_threshold`` (zeros if none).

    With ``return_weights`` also returns the (pairs, time) weights (robust: as iterated;
    selective: 1/kept or 0; other methods: 1/time).

    >>> x = np.array([[[1, 2, 3], [3, 2, 1]]], np.float32)  # one pair, two days, three lags
    >>> stack(x, "linear")
    array([[2., 2., 2.]], dtype=float32)
    """
    x = _array("x", x, np.float32, 3)
    _choice("stack_method", method, STACK_METHODS)
    lo, hi = (float(v) for v in tfpws_band)
    out, weights = _kernels.stack(
        x, method, float(pws_power), float(robust_epsilon), int(robust_max_iter),
        float(nroot_power), (lo, hi), float(selective_threshold), threads,
    )
    return (out, weights) if return_weights else out


def stack_ragged(
    x: np.ndarray,
    offsets: np.ndarray,
    method: str = "linear",
    *,
    pws_power: float = 2.0,
    robust_epsilon: float = 1e-6,
    robust_max_iter: int = 10,
    nroot_power: float = 2.0,
    tfpws_band: tuple[float, float] = (0.0, 0.5),
    selective_threshold: float = 0.0,
    return_weights: bool = False,
    threads: int | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """:func:`stack` of pairs with different numbers of traces, all pairs in one call (in
    parallel): pair ``p`` holds the rows ``offsets[p]:offsets[p + 1]`` of ``x``, float32
    (traces, lags); ``offsets`` int64 (pairs + 1,), from 0, never decreasing. Returns float32
    (pairs, lags), each row equal to :func:`stack` of that pair's traces (zeros for a pair
    without any); with ``return_weights`` also the (traces,) weights.

    >>> x = np.array([[1, 2], [3, 4], [5, 5]], np.float32)  # pair 0: 2 traces, pair 1: 1
    >>> stack_ragged(x, np.array([0, 2, 3]), "linear")
    array([[2., 3.],
           [5., 5.]], dtype=float32)
    """
    x = _array("x", x, np.float32, 2)
    offsets = _array("offsets", offsets, np.int64, 1)
    _choice("stack_method", method, STACK_METHODS)
    lo, hi = (float(v) for v in tfpws_band)
    out, weights = _kernels.stack_ragged(
        x, offsets, method, float(pws_power), float(robust_epsilon), int(robust_max_iter),
        float(nroot_power), (lo, hi), float(selective_threshold), threads,
    )
    return (out, weights) if return_weights else out


def phase_sum(x: np.ndarray, *, threads: int | None = None) -> np.ndarray:
    """Sum over time of the unit phasors ``exp(iφ)`` of each trace's analytic signal.

    ``x``: float32 (pairs, time, lags) → complex64 (pairs, lags).
    """
    x = _array("x", x, np.float32, 3)
    return _kernels.phase_sum(x, threads)


class LinearAccumulator:
    """Running linear stack of (pairs, lags) correlations, one day at a time.

    ``result()`` equals ``stack(all_days, "linear")`` per pair over the days added for it.
    The state (``sum``, ``count``) is plain arrays so it can be saved and resumed.
    """

    def __init__(self, n_pairs: int, n_lags: int) -> None:
        self.sum = np.zeros((n_pairs, n_lags), np.float64)
        self.count = np.zeros(n_pairs, np.int64)

    def add(self, x: np.ndarray, present: np.ndarray | None = None) -> None:
        """Add one (pairs, lags) float32 trace per pair; ``present`` (bool, pairs) skips pairs."""
        x = _array("x", x, np.float32, 2)
        if x.shape != self.sum.shape:
            raise ValueError(f"x: shape {x.shape} differs from the accumulator {self.sum.shape}")
        mask = np.ones(len(x), bool) if present is None else np.asarray(present, bool)
        self.sum[mask] += x[mask]
        self.count[mask] += 1

    def result(self) -> np.ndarray:
        """Stack (pairs, lags) float32; pairs with nothing added are 0."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.sum / self.count[:, None]
        return np.nan_to_num(out).astype(np.float32)


class PwsAccumulator(LinearAccumulator):
    """Running phase-weighted stack: keeps the linear sum and the sum of unit phasors.

    ``result()`` equals ``stack(all_days, "pws", pws_power=power)`` over the days added.
    """

    def __init__(self, n_pairs: int, n_lags: int, power: float = 2.0) -> None:
        super().__init__(n_pairs, n_lags)
        self.power = float(power)
        self.phasors = np.zeros((n_pairs, n_lags), np.complex128)

    def add(self, x: np.ndarray, present: np.ndarray | None = None) -> None:
        super().add(x, present)
        mask = np.ones(len(x), bool) if present is None else np.asarray(present, bool)
        self.phasors[mask] += phase_sum(np.ascontiguousarray(x[mask, None, :]))[:, :]

    def result(self) -> np.ndarray:
        linear = super().result()
        with np.errstate(invalid="ignore", divide="ignore"):
            coherence = np.nan_to_num(np.abs(self.phasors) / self.count[:, None])
        return (linear * coherence**self.power).astype(np.float32)
