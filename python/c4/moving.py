"""Moving-window stacks of the daily correlations (``c4 stack --moving 10d --step 1d``).

Window ``k`` is centred on day ``c_k = first + k · step`` (``first``: the first day with data;
the last centre is the last day with data) and covers the ``length`` calendar days from
``c_k − ⌊length/2⌋``; its time stamp is the middle of those days (midnight of ``c_k`` for an
even length, noon for an odd one). Every day with data inside a window counts ("any day
counts": nothing is required of the others); a pair's window stack uses the days in which it
has windows, with any stack method of :data:`c4.kernels.STACK_METHODS`, exactly as ``c4 stack``
does for the whole period (:func:`c4.stacking.stack_dailies`). A pair with no day in a window
is NaN there, with ``n_days`` 0.

The product is a Zarr store ``stacks/<name>.zarr`` with one variable per method, dims
``(time, pair, lag)``, plus ``n_days`` and ``n_windows`` ``(time, pair)`` and coordinates
``time`` (window centre), ``window_start`` and ``window_end`` (first and last day covered).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from c4.config import Config, ProcessingConfig
from c4.dailybatches import daily_batches
from c4.stacking import batch_bytes, check_methods, stack_attrs, stack_dailies, stack_inputs
from c4.store import DailyResult, _union_pairs, make_dataset, write_datasets

log = logging.getLogger(__name__)

__all__ = ["MovingWindow", "moving_name", "moving_stack_results", "moving_stacks",
           "moving_windows"]


@dataclass(frozen=True)
class MovingWindow:
    """Days ``first ..= last`` of one window and its centre time."""

    first: dt.date
    last: dt.date

    @property
    def centre(self) -> np.datetime64:
        """Middle of the covered days (``first`` 00:00 + length / 2)."""
        hours = 12 * ((self.last - self.first).days + 1)
        return np.datetime64(self.first.isoformat(), "h") + np.timedelta64(hours, "h")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.first <= day <= self.last


def moving_windows(days: Sequence[dt.date], length: int, step: int) -> list[MovingWindow]:
    """Windows of ``length`` days every ``step`` days over the span of ``days`` (see module)."""
    if length < 1 or step < 1:
        raise ValueError(f"moving windows: length ({length}) and step ({step}) must be >= 1 day")
    if not days:
        return []
    first, last = min(days), max(days)
    out = []
    centre = first
    while centre <= last:
        start = centre - dt.timedelta(days=length // 2)
        out.append(MovingWindow(start, start + dt.timedelta(days=length - 1)))
        centre += dt.timedelta(days=step)
    return out


def moving_stacks(
    dailies: Sequence[DailyResult], windows: Sequence[MovingWindow], methods: Sequence[str],
    processing: ProcessingConfig,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Stack ``dailies`` in each of ``windows`` with each of ``methods``.

    Returns (pair table, {method: float32 (time, pair, lag)}, lags in s,
    {"n_days", "n_windows": int (time, pair)}); pairs sorted by name, NaN where a pair has no
    day in a window.
    """
    table = _union_pairs([d.pairs for d in dailies])
    index = {n: i for i, n in enumerate(table["pair"])}
    n_lags = len(dailies[0].lags)
    shape = (len(windows), len(index))
    stacks = {m: np.full((*shape, n_lags), np.nan, np.float32) for m in methods}
    counts = {k: np.zeros(shape, np.int64) for k in ("n_days", "n_windows")}
    for k, win in enumerate(windows):
        inside = [d for d in dailies if d.day in win]
        if not inside:
            continue
        t, s, _, c = stack_dailies(inside, methods, processing)
        rows = np.array([index[str(n)] for n in t["pair"]], np.int64)
        has = c["n_days"] > 0
        for m in methods:
            stacks[m][k, rows[has]] = s[m][has]
        for name in counts:
            counts[name][k, rows] = c[name]
    return table, stacks, dailies[0].lags, counts


def moving_name(length: int, step: int) -> str:
    """Default product name of a moving stack: ``moving_10d_1d``."""
    return f"moving_{length}d_{step}d"


def moving_stack_results(
    config: Config, *, length: int, step: int, name: str | None = None,
    methods: Sequence[str] | None = None, start: dt.date | None = None,
    end: dt.date | None = None, days_settings: bool = False,
) -> str:
    """``c4 stack --moving``: moving-window stacks of the completed days in ``[start, end]`` of
    ``config.output.output`` into ``stacks/<name>.zarr`` (default :func:`moving_name`);
    returns the store's URL. Settings as :func:`c4.stacking.stack_results`."""
    methods = check_methods(methods or config.processing.stack_methods)
    loc, entries, settings, scratch = stack_inputs(config, start, end,
                                                   days_settings=days_settings)
    cfg = settings.config
    used = [dt.date.fromisoformat(e["day"]) for e in entries]
    windows = moving_windows(used, length, step)
    name = name or moving_name(length, step)
    attrs = stack_attrs(cfg, used, settings=settings, product="moving_stack", name=name,
                        moving_days=length, step_days=step, methods=methods)
    coords = {"time": [w.centre for w in windows],
              "window_start": ("time", [np.datetime64(w.first) for w in windows]),
              "window_end": ("time", [np.datetime64(w.last) for w in windows])}
    # a batch also holds its stacks: (windows x methods) per pair beside its days
    limit = batch_bytes(cfg) * len(used) // (len(used) + len(windows) * len(methods))

    def datasets() -> Iterator[Any]:
        for dailies in daily_batches(loc, entries, cfg.output.pair_partitions, max(1, limit),
                                     scratch):
            table, stacks, lags, counts = moving_stacks(dailies, windows, methods,
                                                        cfg.processing)
            extra: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
                m: (("time", "pair", "lag"), v) for m, v in stacks.items()}
            extra.update({k: (("time", "pair"), v) for k, v in counts.items()})
            yield make_dataset({}, lags, table, attrs, extra=extra).assign_coords(coords)

    rel = f"stacks/{name}.zarr"
    n_pairs = write_datasets(datasets(), loc, rel, scratch)
    log.info("wrote %s/%s: %d pairs, %d windows of %d days every %d days, methods %s",
             config.output.output, rel, n_pairs, len(windows), length, step, ", ".join(methods))
    return f"{config.output.output.rstrip('/')}/{rel}"
