"""Stacks of daily correlations: shard stacks (inside ``c4 correlate``) and ``c4 stack``.

Every stack is built from the daily files of the results store, in day order, so the same days
always give the same numbers (bit for bit). A pair's stack uses the days (and sub-stack groups)
in which it has at least one window; pairs are batched by their pattern of present days so that
each kernel call sees a dense (pairs, traces, lags) array. Stores are built one pair partition
at a time (:func:`stack_to_store`), so memory holds one partition's days, not the network's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import c4
from c4 import kernels
from c4.config import Config, ProcessingConfig
from c4.objstore import Location
from c4.store import (
    SIGN_CONVENTION,
    DailyResult,
    _union_pairs,
    completed_days,
    concat_days,
    day_entry,
    make_dataset,
    output_location,
    read_partition,
    write_datasets,
)

log = logging.getLogger(__name__)

__all__ = ["daily_batches", "data_entries", "stack_dailies", "stack_results", "stack_to_store"]


def stack_dailies(
    dailies: Sequence[DailyResult], methods: Sequence[str], processing: ProcessingConfig,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Stack days of correlations with each of ``methods``.

    Returns (pair table, {method: float32 (pairs, lags)}, lags in s,
    {"n_days": int (pairs,), "n_windows": int (pairs,)}), pairs sorted by name.
    """
    table = _union_pairs([d.pairs for d in dailies])
    index = {n: i for i, n in enumerate(table["pair"])}
    n_pairs = len(index)
    lags = dailies[0].lags
    n_lags = len(lags)
    n_traces = sum(d.data.shape[1] for d in dailies)
    traces = np.zeros((n_pairs, n_traces, n_lags), np.float32)
    present = np.zeros((n_pairs, n_traces), bool)
    n_days = np.zeros(n_pairs, np.int64)
    n_windows = np.zeros(n_pairs, np.int64)
    t = 0
    for d in dailies:
        if len(d.lags) != n_lags:
            raise ValueError(f"day {d.day}: {len(d.lags)} lags differ from {n_lags}; the days "
                             "were made with different maxlag or sampling_rate")
        rows = np.array([index[str(n)] for n in d.pairs["pair"]], np.int64)
        g = d.data.shape[1]
        traces[rows, t:t + g] = d.data
        present[rows, t:t + g] = d.counts > 0
        n_days[rows] += (d.counts.sum(axis=1) > 0)
        n_windows[rows] += d.counts.sum(axis=1).astype(np.int64)
        t += g
    p = processing
    threads = p.threads or None
    stacks = {m: np.zeros((n_pairs, n_lags), np.float32) for m in methods}
    patterns: dict[bytes, list[int]] = {}
    for i in range(n_pairs):
        if present[i].any():
            patterns.setdefault(present[i].tobytes(), []).append(i)
    for rows_list in patterns.values():
        rows = np.array(rows_list, np.int64)
        cols = np.flatnonzero(present[rows[0]])
        x = np.ascontiguousarray(traces[np.ix_(rows, cols)])
        for m in methods:
            stacks[m][rows] = kernels.stack(
                x, m, pws_power=p.pws_power, robust_epsilon=p.robust_epsilon,
                robust_max_iter=p.robust_max_iter, nroot_power=p.nroot_power,
                tfpws_band=(p.freqmin / p.sampling_rate, p.freqmax / p.sampling_rate),
                selective_threshold=p.selective_threshold, threads=threads,
            )
    return table, stacks, lags, {"n_days": n_days, "n_windows": n_windows}


STACK_BATCH_BYTES = 1 << 30
"""Daily correlations read before a batch of partitions is stacked and written (1 GiB)."""


def data_entries(loc: Location, start: dt.date | None = None,
                 end: dt.date | None = None) -> list[dict[str, Any]]:
    """Manifest entries of the completed days in ``[start, end]`` (default: all) that hold
    correlations, in day order: what every stack product is made of."""
    entries = []
    for day in sorted(completed_days(loc)):
        if (start is None or day >= start) and (end is None or day <= end):
            entry = day_entry(loc, day)
            if entry is not None and entry.get("parts"):
                entries.append(entry)
    return entries


def daily_batches(loc: Location, entries: Sequence[dict[str, Any]], n_parts: int,
                  limit: int = STACK_BATCH_BYTES) -> Iterator[list[DailyResult]]:
    """The days of ``entries`` (day manifest entries, in day order) one batch of pairs at a
    time: per batch, one :class:`DailyResult` per day that has some of its pairs, in day order.

    Pair partitions are read in order and gathered until about ``limit`` bytes of daily
    correlations, so a small network is one batch and a large one never holds more."""
    days = [dt.date.fromisoformat(e["day"]) for e in entries]
    batch: list[list[DailyResult | None]] = []
    size = 0

    def merged() -> list[DailyResult]:
        out = []
        for i, day in enumerate(days):
            found = [b[i] for b in batch if b[i] is not None]
            if found:
                out.append(concat_days(day, found))  # type: ignore[arg-type]
        return out

    for part in range(n_parts):
        found = [read_partition(loc, day, e, part, n_parts)
                 for day, e in zip(days, entries, strict=True)]
        if all(r is None for r in found):
            continue
        batch.append(found)
        size += sum(r.data.nbytes for r in found if r is not None)
        if size >= limit:
            yield merged()
            batch, size = [], 0
    if batch:
        yield merged()


def stack_to_store(loc: Location, entries: Sequence[dict[str, Any]], methods: Sequence[str],
                   config: Config, attrs: dict[str, Any], rel: str, scratch: Path) -> int:
    """Stack the days of ``entries`` (day manifest entries, in day order) into the Zarr store
    ``rel`` of ``loc``, one batch of pairs at a time (:func:`daily_batches`); returns the pairs
    written (0: nothing)."""

    def datasets() -> Iterator[Any]:
        for dailies in daily_batches(loc, entries, config.output.pair_partitions):
            table, stacks, lags, counts = stack_dailies(dailies, methods, config.processing)
            yield make_dataset(stacks, lags, table, attrs,
                               extra={k: (("pair",), v) for k, v in counts.items()})

    return write_datasets(datasets(), loc, rel, scratch)


def stack_attrs(config: Config, days: Sequence[dt.date], **extra: Any) -> dict[str, Any]:
    """Provenance attributes of a stack product."""
    return {
        "c4_version": c4.__version__,
        "config": config.to_toml(),
        "fingerprint": config.fingerprint(),
        "first_day": days[0].isoformat() if days else "",
        "last_day": days[-1].isoformat() if days else "",
        "days": [d.isoformat() for d in days],
        "sampling_rate": config.processing.sampling_rate,
        "sign_convention": SIGN_CONVENTION,
        **extra,
    }


def stack_results(
    config: Config, *, name: str, methods: Sequence[str] | None = None,
    start: dt.date | None = None, end: dt.date | None = None,
) -> str:
    """``c4 stack``: stack the completed days in ``[start, end]`` (default: all) of the store
    ``config.output.output`` into ``stacks/<name>.zarr``; returns the store's URL."""
    loc = output_location(config.output.output, config.data.endpoint_url)
    fp = config.fingerprint()
    entries = data_entries(loc, start, end)
    fingerprints = {e.get("fingerprint") for e in entries}
    if not entries:
        raise FileNotFoundError(f"{config.output.output}: no completed day with data "
                                f"between {start or 'the first'} and {end or 'the last'} day")
    if fingerprints != {fp}:
        log.warning("the days were made with other processing settings than this config "
                    "(fingerprints %s, config %s)", sorted(map(str, fingerprints)), fp)
    methods = list(methods or config.processing.stack_methods)
    for m in methods:
        if m not in kernels.STACK_METHODS:
            raise ValueError(f"stack method {m!r}; allowed: {', '.join(kernels.STACK_METHODS)}")
    used = [dt.date.fromisoformat(e["day"]) for e in entries]
    attrs = stack_attrs(config, used, product="stack", name=name)
    scratch = Path(config.scratch_dir())
    if not scratch.is_dir():
        raise FileNotFoundError(f"output.scratch: directory {scratch} does not exist")
    rel = f"stacks/{name}.zarr"
    n_pairs = stack_to_store(loc, entries, methods, config, attrs, rel, scratch)
    log.info("wrote %s/%s: %d pairs, %d days, methods %s", config.output.output, rel,
             n_pairs, len(used), ", ".join(methods))
    return f"{config.output.output.rstrip('/')}/{rel}"
