"""Channel-days onto the day grid with the Rust kernels (the default preprocessing path).

For one channel-day (:func:`grid_channel`), the files are decoded by libmseed (:mod:`c4.mseed`,
threads welcome) and the samples go as decoded (int32 counts for Steim) to
``c4._kernels.to_grid``, which writes one row of the day's records in place: traces merged into
runs, per run demean + linear detrend + Hann taper (5 %, at most 60 s per end), a Kaiser
anti-alias low-pass (flat to 0.4, -100 dB from 0.6 of the lower rate) with integer decimation or
resampling onto ``t_k = midnight + k / sampling_rate``, optional response removal, and the gap
mask (see ``c4_kernels::preprocess`` for the details). The obspy path in :mod:`c4.preprocess`
is the reference these numbers are tested against.

Every trace is put on the grid at its own rate: a channel-day whose clock runs at 40.000016 Hz
beside 40 Hz ones is resampled like any other rate (and logged once per channel-day), not
dropped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from c4 import _kernels, mseed
from c4.preprocess import ChannelResult, ChannelTask, drop, first_line

log = logging.getLogger(__name__)

__all__ = ["MARGIN_S", "RESPONSE_POINTS", "grid_channel", "response_grid"]

#: Seconds of data kept beyond each end of the day before detrending and tapering.
MARGIN_S = 60.0
TAPER_FRACTION = 0.05
TAPER_MAX_S = 60.0
#: Water level of the response inversion, dB below the response's peak (obspy's default).
WATER_LEVEL_DB = 60.0
#: Frequencies at which the response is evaluated across the pre-filter (linear in between).
RESPONSE_POINTS = 4097
#: A rate within this fraction of a round rate is that rate off by clock error (logged).
JITTER_TOLERANCE = 1e-3

_responses: dict[tuple[Any, ...], tuple[Any, np.ndarray]] = {}
_responses_lock = threading.Lock()


def response_grid(response: Any, output: str, pre_filt: tuple[float, float, float, float]
                  ) -> tuple[np.ndarray, float, float]:
    """(complex response at ``f0 + k df``, f0, df) across ``pre_filt`` for an obspy
    ``Response``, cached per response object (one evalresp per channel epoch, not per day)."""
    key = (id(response), output, tuple(pre_filt))
    with _responses_lock:
        hit = _responses.get(key)
    f1, f4 = pre_filt[0], pre_filt[3]
    df = (f4 - f1) / (RESPONSE_POINTS - 1)
    if hit is not None and hit[0] is response:
        return hit[1], f1, df
    freqs = f1 + df * np.arange(RESPONSE_POINTS)
    values = np.ascontiguousarray(
        response.get_evalresp_response_for_frequencies(freqs, output=output), np.complex128)
    with _responses_lock:
        _responses[key] = (response, values)
    return values, f1, df


def _nominal(rate: float) -> float:
    """The round rate a sampling rate stands for (40.000016 -> 40)."""
    return float(round(rate)) if rate >= 1 else round(rate, 4)


def _rate_messages(channel: str, rates: list[float], fs: float) -> list[tuple[int, str]]:
    msgs = []
    off = sorted({r for r in rates
                  if 0 < abs(r - _nominal(r)) <= JITTER_TOLERANCE * _nominal(r)})
    if off:
        parts = ", ".join(f"{r:.9g} Hz ({(r / _nominal(r) - 1) * 1e6:+.2f} ppm off "
                          f"{_nominal(r):g} Hz)" for r in off)
        msgs.append((logging.INFO, f"{channel}: sampling rate {parts}; resampled onto the "
                                   f"{fs:g} Hz grid"))
    nominal = sorted({_nominal(r) for r in rates})
    if len(nominal) > 1:
        msgs.append((logging.INFO, f"{channel}: mixed sampling rates {nominal} Hz; each trace "
                                   f"resampled onto the {fs:g} Hz grid"))
    return msgs


def grid_channel(task: ChannelTask, out: np.ndarray, gaps: np.ndarray) -> ChannelResult:
    """Preprocess one channel-day into ``out`` (float32, ``task.npts``) and ``gaps`` (bool,
    True where there is no data), both writable rows; never raises for bad data. The result's
    ``data``/``gaps`` are those rows, or None when the channel-day is dropped."""
    from obspy import UTCDateTime

    msgs: list[tuple[int, str]] = []
    net, sta, loc, cha = task.channel.split(".")
    day0 = UTCDateTime(task.starttime)
    day0_us = day0.ns // 1000
    traces: list[mseed.DecodedTrace] = []
    for path in task.paths:
        try:
            got, notes = mseed.read_traces(path)
        except (mseed.MseedError, OSError) as exc:
            msgs.append((logging.WARNING, f"skipping corrupt file {path}: {first_line(exc)}"))
            continue
        summary = mseed.summarise_notes(path, notes, got)
        if summary:
            msgs.append((logging.WARNING, summary))
        traces += [t for t in got if (t.network, t.station, t.location, t.channel)
                   == (net, sta, loc, cha) and len(t.data) > 1]
    if not traces:
        return drop(task.channel, msgs, "no readable data")
    msgs += _rate_messages(task.channel, [t.rate for t in traces], task.sampling_rate)
    kwargs: dict[str, Any] = {}
    if task.remove_response and task.inventory is not None and task.pre_filt is not None:
        first = max(min(t.start_us for t in traces), day0_us)
        try:
            response = task.inventory.get_response(task.channel, UTCDateTime(ns=first * 1000))
            values, f0, df = response_grid(response, task.response_output, task.pre_filt)
        except Exception as exc:
            return drop(task.channel, msgs, f"response removal failed: {first_line(exc)}")
        kwargs = {"response": values, "response_f0": f0, "response_df": df,
                  "pre_filt": tuple(task.pre_filt), "water_level": WATER_LEVEL_DB}
    covered, non_finite, _segments = _kernels.to_grid(
        [t.data for t in traces], [(t.start_us - day0_us) / 1e6 for t in traces],
        [t.rate for t in traces], out, gaps, task.sampling_rate, margin=MARGIN_S,
        taper_fraction=TAPER_FRACTION, taper_max=TAPER_MAX_S, **kwargs)
    if non_finite:
        msgs.append((logging.WARNING, f"{task.channel}: {non_finite} segment(s) with NaN or "
                                      "Inf samples left out"))
    fraction = covered / task.npts
    if fraction < task.min_data_fraction or covered == 0:
        return drop(task.channel, msgs,
                    f"only {fraction:.0%} of the day has data "
                    f"(processing.min_data_fraction = {task.min_data_fraction:.0%})")
    if fraction < 1:
        msgs.append((logging.INFO, f"{task.channel}: gaps in {1 - fraction:.1%} of the day, "
                                   "zero-filled and masked"))
    return ChannelResult(task.channel, out, gaps, msgs)
