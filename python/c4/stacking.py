"""Stacks of daily correlations: shard stacks (inside ``c4 correlate``) and ``c4 stack``.

Every stack is built from the daily files of the results store, in day order, so the same days
always give the same numbers (bit for bit). A pair's stack uses the days (and sub-stack groups)
in which it has at least one window; pairs are batched by their pattern of present days so that
each kernel call (Rust, on all cores) sees a dense (pairs, traces, lags) array. Stores are built
one bounded batch of pairs at a time (:func:`stack_to_store`, :mod:`c4.dailybatches`), so
memory holds about twice ``output.stack_batch_mb``, however many days and pairs. Days are
stacked only with their own settings (:mod:`c4.daysettings`).
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
from c4.dailybatches import daily_batches
from c4.daysettings import StackSettings, stack_settings
from c4.objstore import Location
from c4.store import (
    SIGN_CONVENTION,
    DailyResult,
    _union_pairs,
    completed_days,
    day_entry,
    make_dataset,
    output_location,
    write_datasets,
)

log = logging.getLogger(__name__)

__all__ = ["batch_bytes", "daily_batches", "data_entries", "stack_attrs", "stack_dailies",
           "stack_inputs", "stack_results", "stack_to_store"]


def stack_dailies(
    dailies: Sequence[DailyResult], methods: Sequence[str], processing: ProcessingConfig,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Stack days of correlations with each of ``methods``.

    Returns (pair table, {method: float32 (pairs, lags)}, lags in s,
    {"n_days": int (pairs,), "n_windows": int (pairs,)}), pairs sorted by name. The traces
    with windows are gathered once from ``dailies`` (no dense copy of absent days) and every
    pair is stacked in one kernel call per method (:func:`c4.kernels.stack_ragged`, all
    cores).
    """
    table = _union_pairs([d.pairs for d in dailies])
    index = {n: i for i, n in enumerate(table["pair"])}
    n_pairs = len(index)
    lags = dailies[0].lags
    n_lags = len(lags)
    n_traces = sum(d.data.shape[1] for d in dailies)
    present = np.zeros((n_pairs, n_traces), bool)
    where = np.full((len(dailies), n_pairs), -1, np.int64)  # row of each pair in each day
    first = np.zeros(len(dailies) + 1, np.int64)  # first trace of each day
    n_days = np.zeros(n_pairs, np.int64)
    n_windows = np.zeros(n_pairs, np.int64)
    for k, d in enumerate(dailies):
        if len(d.lags) != n_lags:
            raise ValueError(f"day {d.day}: {len(d.lags)} lags differ from {n_lags}; the days "
                             "were made with different maxlag or sampling_rate")
        rows = np.array([index[str(n)] for n in d.pairs["pair"]], np.int64)
        g = d.data.shape[1]
        first[k + 1] = first[k] + g
        where[k, rows] = np.arange(len(rows))
        counts = np.asarray(d.counts)
        present[rows, first[k]:first[k + 1]] = counts > 0
        n_days[rows] += counts.sum(axis=1) > 0
        n_windows[rows] += counts.sum(axis=1).astype(np.int64)
    # each pair's traces with windows, pair after pair, in day order: one kernel call per
    # method stacks them all, the pairs in parallel
    offsets = np.zeros(n_pairs + 1, np.int64)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    slot = offsets[:-1, None] + np.cumsum(present, axis=1) - 1  # row of each trace in x
    x = np.empty((int(offsets[-1]), n_lags), np.float32)
    for k, d in enumerate(dailies):
        for g in range(d.data.shape[1]):
            t = first[k] + g
            rows = np.flatnonzero(present[:, t])
            x[slot[rows, t]] = d.data[where[k, rows], g]
    del slot
    p = processing
    stacks = {m: np.zeros((n_pairs, n_lags), np.float32) for m in methods}
    if len(x):
        for m in methods:
            stacks[m][:] = kernels.stack_ragged(
                x, offsets, m, pws_power=p.pws_power, robust_epsilon=p.robust_epsilon,
                robust_max_iter=p.robust_max_iter, nroot_power=p.nroot_power,
                tfpws_band=(p.freqmin / p.sampling_rate, p.freqmax / p.sampling_rate),
                selective_threshold=p.selective_threshold, threads=p.threads or None,
            )
    return table, stacks, lags, {"n_days": n_days, "n_windows": n_windows}


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


def batch_bytes(config: Config) -> int:
    """The stack batch limit of ``config`` (``output.stack_batch_mb``) in bytes."""
    return max(1, int(config.output.stack_batch_mb * 2**20))


def stack_to_store(loc: Location, entries: Sequence[dict[str, Any]], methods: Sequence[str],
                   config: Config, attrs: dict[str, Any], rel: str, scratch: Path) -> int:
    """Stack the days of ``entries`` (day manifest entries, in day order) into the product
    ``rel`` of ``loc`` (:func:`c4.products.publish`), one batch of pairs at a time
    (:func:`c4.dailybatches.daily_batches`, ``output.stack_batch_mb``); returns the pairs
    written (0: nothing). The days must have ``config``'s fingerprint
    (:func:`c4.daysettings.stack_settings`)."""
    stack_settings(config, entries)

    def datasets() -> Iterator[Any]:
        for dailies in daily_batches(loc, entries, config.output.pair_partitions,
                                     batch_bytes(config), scratch):
            table, stacks, lags, counts = stack_dailies(dailies, methods, config.processing)
            yield make_dataset(stacks, lags, table, attrs,
                               extra={k: (("pair",), v) for k, v in counts.items()})

    return write_datasets(datasets(), loc, rel, scratch)


def stack_attrs(config: Config, days: Sequence[dt.date], *,
                settings: StackSettings | None = None, **extra: Any) -> dict[str, Any]:
    """Provenance attributes of a stack product made with ``config`` (or ``settings``: then
    also the days' fingerprints and config as recorded)."""
    described = settings.attrs() if settings is not None else {
        "fingerprints": [config.fingerprint()], "days_config": config.to_toml()}
    return {
        "c4_version": c4.__version__,
        "config": config.to_toml(),
        "fingerprint": config.fingerprint(),
        **described,
        "first_day": days[0].isoformat() if days else "",
        "last_day": days[-1].isoformat() if days else "",
        "days": [d.isoformat() for d in days],
        "sampling_rate": config.processing.sampling_rate,
        "sign_convention": SIGN_CONVENTION,
        **extra,
    }


def check_methods(methods: Sequence[str]) -> list[str]:
    """``methods`` as a list; ``ValueError`` naming an unknown one and the allowed ones."""
    for m in methods:
        if m not in kernels.STACK_METHODS:
            raise ValueError(f"stack method {m!r}; allowed: {', '.join(kernels.STACK_METHODS)}")
    return list(methods)


def stack_inputs(config: Config, start: dt.date | None, end: dt.date | None, *,
                 days_settings: bool = False
                 ) -> tuple[Location, list[dict[str, Any]], StackSettings, Path]:
    """What ``c4 stack`` works on: the store, the entries of its completed days with data in
    ``[start, end]``, the settings to stack them with, and the scratch folder; every user
    mistake is a one-line error before any work."""
    loc = output_location(config.output.output, config.data.endpoint_url)
    scratch = Path(config.scratch_dir())
    if not scratch.is_dir():
        raise FileNotFoundError(f"output.scratch: directory {scratch} does not exist")
    entries = data_entries(loc, start, end)
    if not entries:
        raise FileNotFoundError(f"{config.output.output}: no completed day with data "
                                f"between {start or 'the first'} and {end or 'the last'} day")
    settings = stack_settings(config, entries, days_settings=days_settings)
    # the days' configs are in ``settings``; a year of them need not stay in memory
    entries = [{k: v for k, v in e.items() if k != "config"} for e in entries]
    return loc, entries, settings, scratch


def stack_results(
    config: Config, *, name: str, methods: Sequence[str] | None = None,
    start: dt.date | None = None, end: dt.date | None = None, days_settings: bool = False,
) -> str:
    """``c4 stack``: stack the completed days in ``[start, end]`` (default: all) of the store
    ``config.output.output`` into ``stacks/<name>.zarr``; returns the store's URL.

    The days must have been made with ``config``'s settings (fingerprint), or with
    ``days_settings`` they are stacked with their own (:func:`c4.daysettings.stack_settings`);
    the product's attributes describe the settings used."""
    methods = check_methods(methods or config.processing.stack_methods)
    loc, entries, settings, scratch = stack_inputs(config, start, end,
                                                   days_settings=days_settings)
    used = [dt.date.fromisoformat(e["day"]) for e in entries]
    attrs = stack_attrs(settings.config, used, settings=settings, product="stack", name=name)
    rel = f"stacks/{name}.zarr"
    n_pairs = stack_to_store(loc, entries, methods, settings.config, attrs, rel, scratch)
    log.info("wrote %s/%s: %d pairs, %d days, methods %s", config.output.output, rel,
             n_pairs, len(used), ", ".join(methods))
    return f"{config.output.output.rstrip('/')}/{rel}"
