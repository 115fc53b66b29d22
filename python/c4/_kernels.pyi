"""Type stubs of the compiled kernels; see ``c4.kernels`` for documented wrappers."""

import numpy as np
import numpy.typing as npt

__version__: str
LANES: int
REJECTIONS: list[str]

__all__ = [
    "LANES",
    "REJECTIONS",
    "KernelError",
    "__version__",
    "all_finite",
    "correlate",
    "default_threads",
    "fast_len",
    "mwcs_delays",
    "pack",
    "phase_sum",
    "spectra",
    "stack",
    "stack_ragged",
    "stretch_cc",
    "stretching",
    "time_normalize",
    "to_grid",
    "unpack",
    "whiten",
    "windows",
]

class KernelError(ValueError):
    """A kernel rejected its arguments; the message starts with the argument's name."""

_F32 = npt.NDArray[np.float32]
_C64 = npt.NDArray[np.complex64]
_Qc = tuple[_F32, _F32, _F32, _F32]

def all_finite(x: npt.NDArray[np.float32], threads: int | None = None) -> bool: ...
def fast_len(n: int) -> int: ...
def default_threads() -> int: ...
def windows(
    data: _F32,
    win_len: int,
    step: int,
    taper_fraction: float,
    zero_run: int,
    gaps: npt.NDArray[np.bool_] | None = None,
    threads: int | None = None,
) -> tuple[_F32, _Qc]: ...
def time_normalize(
    x: _F32, method: str, smooth_n: int, clip_std: float, threads: int | None = None
) -> _F32: ...
def whiten(
    spectra: _C64,
    fs: float,
    nfft: int,
    freqmin: float,
    freqmax: float,
    taper_bins: int,
    freq_norm: str,
    smoothspect_n: int,
    threads: int | None = None,
) -> tuple[_C64, int]: ...
def spectra(
    data: _F32,
    fs: float,
    cc_len: float,
    step: float,
    maxlag: float,
    freqmin: float,
    freqmax: float,
    *,
    gaps: npt.NDArray[np.bool_] | None = None,
    taper_fraction: float = 0.05,
    taper_bins: int = 100,
    time_norm: str = "none",
    smooth_n: int = 1,
    clip_std: float = 3.0,
    freq_norm: str = "rma",
    smoothspect_n: int = 1,
    max_gap_fraction: float = 0.0,
    max_std_ratio: float = ...,
    max_over_std: float = ...,
    qc_band: tuple[float, float] | None = None,
    rma_band: tuple[float, float] | None = None,
    multiband_n: int = 4,
    mute_factor: float | None = None,
    mute_band: tuple[float, float] | None = None,
    phase: bool = False,
    threads: int | None = None,
) -> tuple[
    _F32,
    int,
    npt.NDArray[np.bool_],
    _Qc,
    npt.NDArray[np.uint8],
    npt.NDArray[np.uint64],
    int,
    int,
]: ...
def correlate(
    packed: _F32,
    n_bins: int,
    valid: npt.NDArray[np.bool_],
    offset: int,
    nfft: int,
    pairs: npt.NDArray[np.int64],
    maxlag_n: int,
    cc_method: str = "xcorr",
    substack: int = 0,
    smoothspect_n: int = 1,
    phase: bool = False,
    threads: int | None = None,
) -> tuple[_F32, npt.NDArray[np.uint32]]: ...
def stack(
    x: _F32,
    method: str,
    pws_power: float = 2.0,
    robust_epsilon: float = 1e-6,
    robust_max_iter: int = 10,
    nroot_power: float = 2.0,
    tfpws_band: tuple[float, float] = ...,
    selective_threshold: float = 0.0,
    threads: int | None = None,
) -> tuple[_F32, _F32]: ...
def stack_ragged(
    x: _F32,
    offsets: npt.NDArray[np.int64],
    method: str,
    pws_power: float = 2.0,
    robust_epsilon: float = 1e-6,
    robust_max_iter: int = 10,
    nroot_power: float = 2.0,
    tfpws_band: tuple[float, float] = ...,
    selective_threshold: float = 0.0,
    threads: int | None = None,
) -> tuple[_F32, _F32]: ...
def phase_sum(x: _F32, threads: int | None = None) -> _C64: ...
def pack(spectra: _C64) -> _F32: ...
def unpack(packed: _F32, n_bins: int) -> _C64: ...
def to_grid(
    samples: list[npt.NDArray[np.int32] | npt.NDArray[np.float32] | npt.NDArray[np.float64]],
    starts: list[float],
    rates: list[float],
    out: _F32,
    gaps: npt.NDArray[np.bool_],
    fs: float,
    *,
    margin: float = 60.0,
    taper_fraction: float = 0.05,
    taper_max: float = 60.0,
    response: npt.NDArray[np.complex128] | None = None,
    response_f0: float = 0.0,
    response_df: float = 0.0,
    pre_filt: tuple[float, float, float, float] | None = None,
    water_level: float = 60.0,
) -> tuple[int, int, list[tuple[float, float, int, int, int, str, int]]]: ...
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

def stretching(
    reference: _F32,
    current: _F32,
    zero: int,
    segments: _I64,
    max_stretch: float,
    n_grid: int,
    tolerance: float,
    threads: int | None = None,
) -> tuple[_F64, _F64]: ...
def stretch_cc(
    reference: _F32,
    current: _F32,
    zero: int,
    segments: _I64,
    trials: _F64,
    threads: int | None = None,
) -> _F64: ...
def mwcs_delays(
    reference: _F32,
    current: _F32,
    starts: _I64,
    win: int,
    nfft: int,
    bin_lo: int,
    bin_hi: int,
    smooth_half: int,
    fs: float,
    threads: int | None = None,
) -> tuple[_F64, _F64, _F64]: ...
