"""Daily correlations kept beyond their shard, as ``output.daily`` chooses.

While a shard runs, each finished day is a set of float32 partition files in the store's work
area (``daily/YYYY-MM-DD/part-PPPPP.npz``, :func:`c4.store.write_day_part`): they live in the
output store, not on scratch, because a Spot retry starts on a fresh instance. The shard's
stacks are always built from them, so they never depend on the choice. Once the stacks are
written, :func:`keep_dailies` writes what the user keeps as one Zarr v3 store per shard,
``daily/<label>.zarr`` (sharded along ``pair``: a few objects per shard however many pairs),
the shard's manifest entry records it (``daily``, ``daily_store``), and only then
:func:`drop_work_dailies` removes the work files. Each step is a deterministic function of the
work files, and the entry comes after the store, so a run killed anywhere and resumed gives
the same bytes as one that never stopped, for every choice:

- ``float32``: every day and sub-stack group as computed (``correlation`` (time, pair, lag));
- ``float16``: the same divided by a per-pair scale (``correlation_scale`` (pair), float32:
  the pair's peak absolute value over the shard) and rounded to float16; readers multiply back
  (relative error <= 2^-11 of the pair's peak);
- ``substack:N``: linear stacks of the days in blocks of N calendar days from the shard's
  first day (the shard stack's method and rules: days and groups without windows skipped);
  ``time`` is the block's first day, ``n_days`` the days stacked;
- ``none``: nothing beyond the shard stacks.

``n_windows`` (time, pair) counts the windows of each step (0 and NaN traces: no data);
``day`` (time) is the day of each step; kept days also hold each numeric pair coordinate per
step, ``day_<name>`` (time, pair), since a re-sited station changes them from one day to the
next (the ``(pair)`` coordinates are the first day's, as in stacks). See ``docs/results.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from c4.objstore import Location

__all__ = ["DailyChoice", "drop_work_dailies", "keep_dailies", "kept_day", "kept_store"]

CHOICES = "float32, float16, substack:N (N >= 1 days), none"


@dataclass(frozen=True)
class DailyChoice:
    """A parsed ``output.daily``: ``kind`` is float32, float16, substack or none."""

    kind: str
    days: int = 0
    """Days per sub-stack (``substack:N``)."""

    @classmethod
    def parse(cls, text: str) -> DailyChoice:
        t = str(text).strip().lower()
        if t in ("float32", "float16", "none"):
            return cls(t)
        head, _, n = t.partition(":")
        if head == "substack" and n.isdigit() and int(n) >= 1:
            return cls("substack", int(n))
        raise ValueError(f"output.daily = {text!r}; allowed: {CHOICES}")

    def __str__(self) -> str:
        return f"substack:{self.days}" if self.kind == "substack" else self.kind

    @property
    def keeps_days(self) -> bool:
        """Whether every day is kept (float32 or float16), so days can be read back."""
        return self.kind in ("float32", "float16")

    @property
    def bytes_per_value(self) -> int:
        return {"float32": 4, "float16": 2, "substack": 4, "none": 0}[self.kind]


def _day_coords(table: dict[str, np.ndarray]) -> list[str]:
    """The numeric pair coordinates (geometry, orientations): they can change from one day to
    the next (a re-sited station), so kept days store them per step as ``day_<name>``."""
    from c4.store import PAIR_COORDS

    return [c for c in PAIR_COORDS if c in table and table[c].dtype.kind == "f"]


def _step_times(day: dt.date, groups: int, group_s: float) -> list[np.datetime64]:
    return [np.datetime64(day.isoformat(), "ms") + np.timedelta64(round(g * group_s * 1000), "ms")
            for g in range(groups)]


def _datasets(loc: Location, entries: Sequence[dict[str, Any]], choice: DailyChoice,
              config: Any, attrs: dict[str, Any], first: dt.date, scratch: Path
              ) -> Iterator[Any]:
    """The kept product of ``entries`` (the shard's day entries with data, in day order),
    one batch of pairs at a time (the batches of the shard's stack)."""
    from c4.stacking import batch_bytes, daily_batches, stack_dailies
    from c4.store import _union_pairs, make_dataset

    days = [dt.date.fromisoformat(e["day"]) for e in entries]
    group_s = {d: float(e.get("group_seconds") or 86400.0) for d, e in zip(days, entries,
                                                                          strict=True)}
    n = choice.days
    blocks = sorted({(d - first).days // n for d in days}) if choice.kind == "substack" else []
    groups = 0
    for dailies in daily_batches(loc, entries, config.output.pair_partitions,
                                 batch_bytes(config), scratch):
        table = _union_pairs([d.pairs for d in dailies])
        index = {name: i for i, name in enumerate(table["pair"])}
        lags = dailies[0].lags
        extra: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        times: list[Any]
        step_day: list[Any]
        if choice.kind == "substack":
            corr = np.full((len(blocks), len(index), len(lags)), np.nan, np.float32)
            nwin = np.zeros((len(blocks), len(index)), np.int64)
            ndays = np.zeros((len(blocks), len(index)), np.int64)
            for b, block in enumerate(blocks):
                these = [d for d in dailies if (d.day - first).days // n == block]
                if not these:
                    continue
                tbl, stacks, _, counts = stack_dailies(these, ["linear"], config.processing)
                rows = [index[str(p)] for p in tbl["pair"]]
                has = counts["n_days"] > 0
                corr[b, rows] = np.where(has[:, None], stacks["linear"], np.nan)
                nwin[b, rows] = counts["n_windows"]
                ndays[b, rows] = counts["n_days"]
            times = [np.datetime64((first + dt.timedelta(days=b * n)).isoformat(), "ms")
                     for b in blocks]
            step_day = times
            extra["n_days"] = (("time", "pair"), ndays)
        else:
            groups = groups or dailies[0].data.shape[1]
            pos = {d: i * groups for i, d in enumerate(days)}
            corr = np.full((len(days) * groups, len(index), len(lags)), np.nan, np.float32)
            nwin = np.zeros((len(days) * groups, len(index)), np.int64)
            geometry = {c: np.full((len(days) * groups, len(index)), np.nan)
                        for c in _day_coords(table)}
            for d in dailies:
                if d.data.shape[1] != groups:
                    raise ValueError(f"day {d.day}: {d.data.shape[1]} sub-stack groups, other "
                                     f"days {groups}: made with different settings")
                at = np.array([index[str(p)] for p in d.pairs["pair"]], np.int64)
                steps = slice(pos[d.day], pos[d.day] + groups)
                corr[steps, at] = d.data.transpose(1, 0, 2)
                nwin[steps, at] = d.counts.T
                for c, values in geometry.items():
                    values[steps, at] = d.pairs[c][None, :]
            extra.update({f"day_{c}": (("time", "pair"), v) for c, v in geometry.items()})
            times = [t for d in days for t in _step_times(d, groups, group_s[d])]
            step_day = [np.datetime64(d.isoformat(), "ms") for d in days for _ in range(groups)]
        if choice.kind == "float16":
            peak = np.nanmax(np.abs(corr), axis=(0, 2), initial=0.0)
            scale = np.where(np.isfinite(peak) & (peak > 0), peak, 1.0).astype(np.float32)
            extra["correlation"] = (("time", "pair", "lag"),
                                    (corr / scale[None, :, None]).astype(np.float16))
            extra["correlation_scale"] = (("pair",), scale)
        else:
            extra["correlation"] = (("time", "pair", "lag"), corr)
        extra["n_windows"] = (("time", "pair"), nwin)
        ds = make_dataset({}, lags, table, attrs, extra=extra)
        yield ds.assign_coords(time=("time", np.array(times, "datetime64[ns]")),
                               day=("time", np.array(step_day, "datetime64[ns]")))


def keep_dailies(loc: Location, config: Any, days: Sequence[dt.date], shard: int, label: str,
                 scratch: Path) -> dict[str, Any]:
    """Write the kept daily product of a shard (``output.daily``) from its work files;
    returns the shard entry's fields ``daily`` (the choice) and ``daily_store`` (None: none
    kept, or no day with data)."""
    from c4.stacking import stack_attrs
    from c4.store import day_entry, write_datasets

    choice = DailyChoice.parse(config.output.daily)
    entries = [e for d in days if (e := day_entry(loc, d)) is not None and e.get("parts")]
    if choice.kind == "none" or not entries:
        return {"daily": str(choice), "daily_store": None}
    used = [dt.date.fromisoformat(e["day"]) for e in entries]
    attrs = stack_attrs(config, used, product="daily", daily=str(choice), shard=shard,
                        label=label)
    rel = f"daily/{label}.zarr"
    n = write_datasets(_datasets(loc, entries, choice, config, attrs, days[0], scratch), loc,
                       rel, scratch)
    return {"daily": str(choice), "daily_store": rel if n else None}


def drop_work_dailies(loc: Location, days: Sequence[dt.date]) -> None:
    """Remove the work files of ``days`` (after their shard's entry is written)."""
    for day in days:
        loc.delete_tree(f"daily/{day.isoformat()}")


def kept_store(loc: Location, entry: dict[str, Any]
               ) -> tuple[DailyChoice, str | None, str]:
    """(choice, store, token) of the kept product holding the day of ``entry`` (a day entry);
    the token changes whenever the shard is closed again. A shard whose entry was withdrawn
    (it is being recomputed) still has its kept product, found by its label; its token is
    then unique (nothing cached across calls)."""
    import uuid

    from c4.products import resolve_product
    from c4.store import shard_entry

    shard = shard_entry(loc, int(entry["shard"])) if "shard" in entry else None
    if shard is not None:
        token = json.dumps(shard, sort_keys=True)
        return DailyChoice.parse(shard.get("daily", "float32")), shard.get("daily_store"), token
    rel = f"daily/{entry.get('label')}.zarr"
    version = resolve_product(loc, rel)
    if version is None:
        raise FileNotFoundError(f"{loc.url}: day {entry['day']}: its work files are gone and "
                                "its shard kept no daily data")
    attrs = json.loads(loc.read_bytes(f"{version}/zarr.json")).get("attributes", {})
    if entry["day"] not in attrs.get("days", []):
        raise FileNotFoundError(f"{loc.url}: day {entry['day']}: not in the kept {rel}")
    return DailyChoice.parse(attrs.get("daily", "float32")), rel, uuid.uuid4().hex


@dataclass
class _Product:
    ds: Any
    names: np.ndarray
    partitions: dict[int, np.ndarray]
    block: tuple[int | None, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] | None = None
    """The last partition read: (part, (correlations of all steps, n_windows, geometry))."""


_products: dict[tuple[str, str, str], _Product] = {}
MAX_OPEN_PRODUCTS = 16
"""Kept products held open (pair names and partitions: ~160 MB each at 1.1 M pairs), so a stack
over a year of monthly shards, read partition by partition, opens each shard once."""


def _product(loc: Location, rel: str, token: str) -> _Product:
    from c4.results import open_store

    key = (loc.url, rel, token)
    if key not in _products:
        if len(_products) >= MAX_OPEN_PRODUCTS:
            _products.pop(next(iter(_products)))
        ds = open_store(loc, rel)
        _products[key] = _Product(ds, np.asarray(ds["pair"].values).astype(str), {})
    return _products[key]


def kept_day(loc: Location, entry: dict[str, Any], part: int | None = None,
             n_parts: int = 1) -> Any:
    """The :class:`c4.store.DailyResult` of the day of ``entry`` read from its shard's kept
    product (pairs sorted by name; with ``part``: only the pairs of partition ``part`` of
    ``n_parts``), or None when it has no such pairs. FileNotFoundError when the day was not
    kept (``output.daily`` substack or none). The partition's pairs are read for all days of
    the shard at once and kept until another partition is asked for, so reading a shard day
    by day reads each chunk once."""
    from c4.store import PAIR_COORDS, DailyResult, partition_of

    day = dt.date.fromisoformat(entry["day"])
    choice, rel, token = kept_store(loc, entry)
    if not choice.keeps_days or rel is None:
        raise FileNotFoundError(f"{loc.url}: day {day}: its daily correlations were not kept "
                                f"(output.daily = {choice}); only shard stacks remain")
    prod = _product(loc, rel, token)
    ds, names = prod.ds, prod.names
    if part is None:
        rows = np.arange(len(names))
    else:
        if n_parts not in prod.partitions:
            prod.partitions[n_parts] = partition_of(names, n_parts)
        rows = np.flatnonzero(prod.partitions[n_parts] == part)
    if prod.block is None or prod.block[0] != part:
        for other in _products.values():  # one partition's days in memory, not one per shard
            other.block = None
        data = np.asarray(ds["correlation"].isel(pair=rows).values, np.float32)
        if "correlation_scale" in ds:
            data *= np.asarray(ds["correlation_scale"].values[rows], np.float32)[None, :, None]
        geometry = {c: np.asarray(ds[f"day_{c}"].isel(pair=rows).values)
                    for c in PAIR_COORDS if f"day_{c}" in ds}
        prod.block = (part, (data, np.asarray(ds["n_windows"].isel(pair=rows).values),
                             geometry))
    data, nwin, geometry = prod.block[1]
    steps = np.flatnonzero(np.asarray(ds["day"].values) == np.datetime64(day.isoformat(), "ns"))
    counts = nwin[steps].T
    keep = counts.sum(axis=1) > 0
    if not keep.any():
        return None
    sel = rows[keep]
    order = np.argsort(names[sel], kind="stable")
    pairs = {"pair": names[sel][order]}
    for c in PAIR_COORDS:
        if c in geometry:  # the day's own value
            pairs[c] = geometry[c][steps[0]][keep][order]
        elif c in ds.coords:
            pairs[c] = np.asarray(ds[c].values)[sel][order]
    values = data[steps][:, keep][:, order].transpose(1, 0, 2)
    return DailyResult(day, np.ascontiguousarray(values), counts[keep][order].astype(np.uint32),
                       np.asarray(ds["lag"].values), pairs)
