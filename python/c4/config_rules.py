"""Config rules that span keys or sections, and what the Rust kernels would refuse, checked
when a config is validated (so ``c4 config show`` and ``c4 submit --dry-run`` report them
before any work): a window longer than the day, more windows per sub-stack than a day holds, a
dv/v band above Nyquist or a lag window beyond ``processing.maxlag``, a band narrower than one
frequency bin, ... Each problem is ``key: problem; fix``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from c4.config import Config, DataConfig, ProcessingConfig

__all__ = ["cross_section_problems", "windows_per_day"]


def windows_per_day(data: DataConfig, p: ProcessingConfig) -> int:
    """Correlation windows in one day file (``data.day_length_s``), as the kernels cut them."""
    n = round(data.day_length_s * p.sampling_rate)
    length, step = round(p.cc_len * p.sampling_rate), round(p.step * p.sampling_rate)
    return 0 if n < length else (n - length) // step + 1


def cross_section_problems(cfg: Config) -> list[str]:
    """Rules between sections, and what the kernels would refuse with these settings (found by
    running them on one window of noise, ~1 ms): each ``key: problem; fix``."""
    d, p, v = cfg.data, cfg.processing, cfg.dvv
    if p.cc_len > d.day_length_s:
        return [f"processing.cc_len ({p.cc_len} s) is longer than a day file "
                f"(data.day_length_s = {d.day_length_s} s): no window fits the day"]
    n_windows = windows_per_day(d, p)
    if p.substack > n_windows:
        return [f"processing.substack ({p.substack}) exceeds the {n_windows} windows of a day "
                f"(cc_len {p.cc_len} s every {p.step} s); lower it, or 0 for one per day"]
    nyquist = p.sampling_rate / 2
    if v.freqmax and v.freqmax >= nyquist:
        return [f"dvv.freqmax ({v.freqmax}) must be below Nyquist ({nyquist} Hz) of "
                "processing.sampling_rate"]
    if v.lag_min >= p.maxlag:
        return [f"dvv.lag_min ({v.lag_min} s) must be below processing.maxlag "
                f"({p.maxlag} s): the lag window would be empty"]
    return _kernel_problems(p)


def _kernel_problems(p: ProcessingConfig) -> list[str]:
    """Run the spectra and correlation kernels on one window of noise with these settings;
    whatever they refuse becomes ``processing.<name>: <why>``."""
    import numpy as np

    from c4 import kernels

    n = round(p.cc_len * p.sampling_rate)
    noise = np.random.default_rng(0).standard_normal((1, n)).astype(np.float32)
    try:
        spec = kernels.spectra(noise, p.sampling_rate, threads=1, **p.spectra_options())
        kernels.correlate(spec, np.zeros((1, 2), np.int64), p.maxlag, cc_method=p.cc_method,
                          substack=p.substack, smoothspect_n=p.smoothspect_n, threads=1)
    except ValueError as exc:
        name, _, why = str(exc).partition(": ")
        from c4.config import ProcessingConfig

        key = name if name in ProcessingConfig.model_fields else ""
        return [f"processing.{key}: {why}" if key else f"processing: {exc}"]
    return []
