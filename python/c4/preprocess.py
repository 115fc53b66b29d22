"""Preprocessing of channel-days: the obspy reference path and the :class:`Preprocessor`.

:class:`Preprocessor` runs a day's channels by one of two methods (``processing.preprocess``):

- ``kernels`` (default): :func:`c4.daygrid.grid_channel` in threads (libmseed decoding and the
  Rust kernels both run without the GIL), each channel written in place into one row of the
  day's ``(channels, samples)`` records;
- ``obspy``: :func:`preprocess_channel` below in a process pool, the reference the kernels are
  tested against (and measured against in ``benches/``).

For one channel-day, the obspy path (:func:`preprocess_channel`):

1. read every file of the channel (a corrupt or unreadable file is logged as
   ``skipping corrupt file <path>: <reason>`` and skipped), keep the channel's traces at the
   most common sampling rate, merge them (overlaps resolved, gaps kept as gaps);
2. per contiguous segment: demean, linear detrend, cosine taper (5 %, at most 60 s per end),
   optional response removal (``processing.remove_response``, pre-filter from the band),
   zero-phase anti-alias low-pass at 0.4 x ``sampling_rate`` when downsampling;
3. put each segment on the day's sample grid (``t = midnight + k / sampling_rate``): by
   decimation when the rates divide and the samples line up (within 1 % of a sample), else
   by Lanczos interpolation (a = 20);
4. samples no segment covers are zero and flagged in the gap mask; a channel-day with a share of
   covered samples below ``processing.min_data_fraction`` is dropped (logged).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import warnings
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "METHODS",
    "ChannelResult",
    "ChannelTask",
    "DayRecords",
    "Preprocessor",
    "drop",
    "first_line",
    "preprocess_channel",
    "remove_line",
]

#: Values of ``processing.preprocess``.
METHODS = ("kernels", "obspy")


@dataclass(frozen=True)
class ChannelTask:
    """Everything one worker needs for one channel-day (picklable)."""

    channel: str
    """``NET.STA.LOC.CHA``."""
    paths: tuple[str, ...]
    starttime: str
    """Day start, ISO 8601 UTC."""
    npts: int
    """Samples of the day grid."""
    sampling_rate: float
    min_data_fraction: float
    remove_response: bool = False
    response_output: str = "VEL"
    pre_filt: tuple[float, float, float, float] | None = None
    inventory: Any = None


@dataclass
class ChannelResult:
    channel: str
    data: np.ndarray | None
    """float32 (npts,), zeros in gaps; None when the channel-day was dropped."""
    gaps: np.ndarray | None
    """bool (npts,), True where there was no data."""
    messages: list[tuple[int, str]]
    """(logging level, message) to log in the parent process."""
    reason: str | None = None
    """Why the channel-day was dropped (None if kept)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def drop(channel: str, messages: list[tuple[int, str]], reason: str) -> ChannelResult:
    """A dropped channel-day: ``reason`` is kept and logged as ``dropping <channel>: <reason>``."""
    messages.append((logging.WARNING, f"dropping {channel}: {reason}"))
    return ChannelResult(channel, None, None, messages, reason)


def _to_grid(x: np.ndarray, fs_in: float, seg_t0: float, fs: float, npts: int
             ) -> tuple[int, np.ndarray] | None:
    """Place a segment (samples ``x`` at ``fs_in`` Hz starting ``seg_t0`` s after midnight) on
    the grid ``k / fs``; returns (first grid index, values) or None if it misses the day."""
    from obspy.signal.interpolation import lanczos_interpolation

    seg_end = seg_t0 + (len(x) - 1) / fs_in
    k0 = max(0, math.ceil(seg_t0 * fs - 1e-6))
    k1 = min(npts - 1, math.floor(seg_end * fs + 1e-6))
    if k1 < k0:
        return None
    count = k1 - k0 + 1
    first = (k0 / fs - seg_t0) * fs_in  # position of grid sample k0 in input samples
    ratio = fs_in / fs
    q = round(ratio)
    if abs(ratio - q) < 1e-9 and abs(first - round(first)) < 0.01:
        i0 = round(first)
        out = x[i0::q][:count]
        if len(out) == count:
            return k0, out
    out = lanczos_interpolation(
        np.ascontiguousarray(x, np.float64), 0.0, 1.0 / fs_in, first / fs_in, 1.0 / fs,
        count, a=20,
    )
    return k0, out


def remove_line(x: np.ndarray) -> np.ndarray:
    """``x`` minus its least-squares line (mean and slope), in float64.

    The closed form of obspy's ``detrend("demean")`` + ``detrend("linear")`` in two passes,
    instead of a least-squares solve over a design matrix of the whole day (4x faster per
    channel-day at 20 Hz).
    """
    x = np.asarray(x, np.float64)
    t = np.arange(len(x), dtype=np.float64) - (len(x) - 1) / 2
    centred = x - x.mean()
    denominator = t @ t
    slope = (t @ centred) / denominator if denominator > 0 else 0.0
    return centred - slope * t


def _summarise_warnings(path: str, notes: list[str], stream: Any) -> str | None:
    """One line for the warnings obspy raised reading ``path`` (see
    :func:`c4.mseed.summarise_notes`)."""
    from c4.mseed import DecodedTrace, summarise_notes

    notes = [n.strip() for n in notes]
    traces = [DecodedTrace(tr.stats.network, tr.stats.station, tr.stats.location,
                           tr.stats.channel, 0, float(tr.stats.sampling_rate), tr.data)
              for tr in stream]
    return summarise_notes(path, notes, traces)


def preprocess_channel(task: ChannelTask) -> ChannelResult:
    """Preprocess one channel-day (see the module docstring); never raises for bad data."""
    from obspy import Stream, UTCDateTime, read

    msgs: list[tuple[int, str]] = []
    net, sta, loc, cha = task.channel.split(".")
    day0 = UTCDateTime(task.starttime)
    fs = task.sampling_rate
    st = Stream()
    for path in task.paths:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got = read(path)
            except Exception as exc:
                msgs.append((logging.WARNING,
                             f"skipping corrupt file {path}: {first_line(exc)}"))
                continue
        summary = _summarise_warnings(path, [str(w.message) for w in caught], got)
        if summary:
            msgs.append((logging.WARNING, summary))
        st += got.select(network=net, station=sta, location=loc, channel=cha)
    st.traces = [tr for tr in st if tr.stats.npts > 1]
    if not st:
        return drop(task.channel, msgs, "no readable data")
    rates = Counter(round(tr.stats.sampling_rate, 6) for tr in st)
    rate = rates.most_common(1)[0][0]
    if len(rates) > 1:
        msgs.append((logging.WARNING, f"{task.channel}: mixed sampling rates {sorted(rates)}; "
                                      f"keeping {rate} Hz"))
    st.traces = [tr for tr in st if round(tr.stats.sampling_rate, 6) == rate]
    for tr in st:
        tr.data = tr.data.astype(np.float64)
    try:
        st.merge(method=1, fill_value=None)
    except Exception as exc:
        return drop(task.channel, msgs, f"cannot merge: {first_line(exc)}")
    day_end = day0 + task.npts / fs
    st = st.split().trim(day0 - 60, day_end + 60)
    data = np.zeros(task.npts, np.float64)
    covered = np.zeros(task.npts, bool)
    for tr in st:
        if tr.stats.npts < 2 or not np.isfinite(tr.data).all():
            continue
        tr.data = remove_line(tr.data)
        tr.taper(max_percentage=0.05, max_length=60.0)
        if task.remove_response and task.inventory is not None:
            try:
                tr.remove_response(task.inventory, output=task.response_output,
                                   pre_filt=task.pre_filt, zero_mean=True, taper=False)
            except Exception as exc:
                return drop(task.channel, msgs, f"response removal failed: {first_line(exc)}")
        if tr.stats.sampling_rate > fs * (1 + 1e-9):
            tr.filter("lowpass", freq=0.4 * fs, corners=8, zerophase=True)
        placed = _to_grid(tr.data, tr.stats.sampling_rate, tr.stats.starttime - day0, fs,
                          task.npts)
        if placed is None:
            continue
        k0, values = placed
        data[k0:k0 + len(values)] = values
        covered[k0:k0 + len(values)] = True
    fraction = covered.mean()
    if fraction < task.min_data_fraction or not covered.any():
        return drop(task.channel, msgs,
                    f"only {fraction:.0%} of the day has data "
                    f"(processing.min_data_fraction = {task.min_data_fraction:.0%})")
    if fraction < 1:
        msgs.append((logging.INFO, f"{task.channel}: gaps in {1 - fraction:.1%} of the day, "
                                   "zero-filled and masked"))
    data[~covered] = 0.0
    return ChannelResult(task.channel, data.astype(np.float32), ~covered, msgs)


@dataclass
class DayRecords:
    """A day's preprocessed channels, ready for :func:`c4.kernels.spectra`."""

    data: np.ndarray
    """float32 ``(kept channels, npts)``, zeros in gaps."""
    gaps: np.ndarray
    """bool ``(kept channels, npts)``, True where there was no data."""
    results: list[ChannelResult]
    """Every task's result, in task order; kept ones hold rows of ``data`` and ``gaps``."""

    @property
    def kept(self) -> list[ChannelResult]:
        """Results with data, in the order of the rows."""
        return [r for r in self.results if r.data is not None]


def _worker_init(parent: int) -> None:
    """Start of an obspy-path worker process: it dies with the ``c4`` process that started it
    (Linux: the kernel kills it when its parent, the forkserver, exits, which happens when
    ``c4`` does; elsewhere, and as a second guard, a thread that polls the parent), and leaves
    Ctrl-C to the parent, which stops the pool (no traceback per worker)."""
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        pass

    def watch() -> None:
        while True:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # the pid was reused by another user's process
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, name="c4-parent-watch", daemon=True).start()


class Preprocessor:
    """Runs a day's channels by ``method`` (``kernels`` or ``obspy``, see the module docs) on
    ``workers`` threads (kernels) or processes (obspy; ``forkserver`` start, so the kernels'
    threads are never forked), kept for the life of the object. ``workers = 0`` means one per
    core; ``workers = 1`` runs in the calling thread."""

    def __init__(self, workers: int = 0, method: str = "kernels") -> None:
        if method not in METHODS:
            raise ValueError(f"method: unknown value {method!r}; allowed values: "
                             f"{', '.join(METHODS)}")
        self.workers = workers or os.cpu_count() or 1
        self.method = method
        self._pool: Executor | None = None

    def __enter__(self) -> Preprocessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _executor(self) -> Executor:
        if self._pool is None:
            if self.method == "kernels":
                self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                                thread_name_prefix="c4-preprocess")
            else:
                method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() \
                    else "spawn"
                ctx = multiprocessing.get_context(method)
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                                 initializer=_worker_init,
                                                 initargs=(os.getpid(),))
        return self._pool

    def run(self, tasks: list[ChannelTask]) -> list[ChannelResult]:
        """Results in the order of ``tasks``; messages are logged here, in the parent."""
        return self.day(tasks).results

    def day(self, tasks: list[ChannelTask]) -> DayRecords:
        """Preprocess one day's ``tasks`` (all of one grid) into :class:`DayRecords`."""
        npts = {t.npts for t in tasks}
        if len(npts) > 1:
            raise ValueError(f"tasks of one day must share the grid, got npts {sorted(npts)}")
        n = npts.pop() if npts else 0
        if self.method == "kernels":
            from c4.daygrid import grid_channel

            data = np.empty((len(tasks), n), np.float32)
            gaps = np.empty((len(tasks), n), bool)
            if self.workers <= 1 or len(tasks) <= 1:
                results = [grid_channel(t, data[i], gaps[i]) for i, t in enumerate(tasks)]
            else:
                pool = self._executor()
                results = list(pool.map(grid_channel, tasks, data, gaps))
            rows = [i for i, r in enumerate(results) if r.data is not None]
            if len(rows) < len(tasks):
                # move the kept rows up (in order, so no row is overwritten before it moves)
                for dst, src in enumerate(rows):
                    if dst != src:
                        data[dst] = data[src]
                        gaps[dst] = gaps[src]
                data, gaps = data[:len(rows)], gaps[:len(rows)]
                for dst, src in enumerate(rows):
                    results[src].data, results[src].gaps = data[dst], gaps[dst]
        else:
            if self.workers <= 1 or len(tasks) <= 1:
                results = [preprocess_channel(t) for t in tasks]
            else:
                results = list(self._executor().map(preprocess_channel, tasks, chunksize=1))
            kept = [r for r in results if r.data is not None]
            data = (np.stack([r.data for r in kept if r.data is not None]) if kept
                    else np.empty((0, n), np.float32))
            gaps = (np.stack([r.gaps for r in kept if r.gaps is not None]) if kept
                    else np.empty((0, n), bool))
        for r in results:
            for level, msg in r.messages:
                log.log(level, msg)
        return DayRecords(data, gaps, results)
