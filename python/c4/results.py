"""Reading results lazily: :func:`open_results` and the selection helper :func:`select`.

Every Zarr store opens as an ``xarray.Dataset`` whose variables are read on access: a local
store through zarr's file store, an S3 store through :class:`c4.s3zarr.S3ReadStore` (ranged
GETs). Stores are sharded along ``pair`` with one inner chunk per pair
(:func:`c4.store.zarr_encoding`), so "all pairs of one station" or "one pair, all days" read
only those pairs' chunks, never the store. Per-pair coordinates (names, components, distances)
are small and read when a store is opened.

An output store with several shards opens as one dataset with a ``time`` dim (the shard's
first day) whose variables are views over the shards' stores (:class:`_AlongTime`), still read
lazily. Shards that had no data (their manifest entry has no store) are left out of ``time``
and listed in the attribute ``shards_without_data``; pairs missing from a shard are NaN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from xarray.backends import BackendArray

from c4.objstore import Location, is_s3
from c4.store import (
    PAIR_COORDS,
    DailyResult,
    _pair_table,
    _union_pairs,
    completed_days,
    completed_shards,
    daily_key,
    day_entry,
    make_dataset,
    output_location,
    read_daily,
    shard_entry,
)

__all__ = ["open_daily", "open_results", "open_store", "select"]


def open_store(loc: Location, rel: str) -> Any:
    """The product ``rel`` of ``loc`` (the version its completion marker names,
    :mod:`c4.products`) as a lazily read ``xarray.Dataset`` (string coordinates decoded to
    numpy ``str``); FileNotFoundError for a product without a marker."""
    import xarray as xr

    from c4.products import MARKER, resolve_product

    version = resolve_product(loc, rel)
    if version is None:
        raise FileNotFoundError(
            f"{loc.url}/{rel}: no complete product here (no {MARKER}: never written, its writer "
            "was interrupted, or an older c4 wrote it); run the command that makes it again")
    if is_s3(loc.url):
        from c4.s3zarr import S3ReadStore

        store: Any = S3ReadStore(loc.child(version))
    else:
        store = loc.local_path(version)
    ds = xr.open_zarr(store, consolidated=False, chunks=None, zarr_format=3)
    for name in list(ds.coords):
        if ds[name].dtype.kind in "OT":
            values = np.array([str(v) for v in np.asarray(ds[name].values).ravel()])
            ds = ds.assign_coords({name: (ds[name].dims, values.reshape(ds[name].shape))})
    return ds


def _download(loc: Location, rel: str, cache_dir: Path) -> Any:
    import shutil

    dest = Path(cache_dir) / rel
    shutil.rmtree(dest, ignore_errors=True)
    loc.get_tree(rel, dest)
    return open_store(output_location(str(cache_dir)), rel)


class _AlongTime(BackendArray):
    """Lazy (time, pair, ...) array over one variable of several shard stores: time step
    ``t`` is shard ``t``; union pair ``i`` is row ``rows[t][i]`` of that shard (-1: absent,
    filled with NaN). Only the rows a selection asks for are read from each shard."""

    def __init__(self, variables: list[Any], rows: list[np.ndarray], dtype: np.dtype) -> None:
        self.variables = variables
        self.rows = rows
        self.dtype = np.dtype(dtype)
        self.shape = (len(variables), len(rows[0]), *variables[0].shape[1:])

    def __getitem__(self, key: Any) -> Any:
        from xarray.core import indexing

        return indexing.explicit_indexing_adapter(key, self.shape,
                                                  indexing.IndexingSupport.OUTER, self._get)

    def _get(self, key: tuple[Any, ...]) -> np.ndarray:
        picks = [np.arange(n)[k] for n, k in zip(self.shape, key, strict=True)]
        scalar = [np.ndim(p) == 0 for p in picks]
        picks = [np.atleast_1d(p) for p in picks]
        ts, ps, rest = picks[0], picks[1], picks[2:]
        out = np.full((len(ts), len(ps), *(len(r) for r in rest)), np.nan, self.dtype)
        for j, t in enumerate(ts):
            rows = self.rows[t][ps]
            have = np.flatnonzero(rows >= 0)
            if not have.size:
                continue
            wanted, back = np.unique(rows[have], return_inverse=True)
            block = np.asarray(self.variables[t][(wanted, *rest)].values, self.dtype)
            out[j, have] = block[back]
        squeeze = tuple(i for i, s in enumerate(scalar) if s)
        return out.squeeze(axis=squeeze) if squeeze else out


def _along_time(parts: list[Any], labels: list[str]) -> Any:
    """One dataset of several shard stores, stacked lazily along ``time``."""
    import xarray as xr
    from xarray.core import indexing

    table = _union_pairs([_pair_table(p) for p in parts])
    index = {n: i for i, n in enumerate(table["pair"])}
    rows = []
    for p in parts:
        r = np.full(len(index), -1, np.int64)
        r[[index[str(n)] for n in p["pair"].values]] = np.arange(p.sizes["pair"])
        rows.append(r)
    lags = parts[0]["lag"].values
    variables = [v for v in parts[0].data_vars if all(v in p.data_vars for p in parts)
                 and parts[0][v].dims[:1] == ("pair",)]
    attrs = {k: v for k, v in parts[0].attrs.items() if k not in {"first_day", "last_day",
                                                                   "shard", "days", "label"}}
    attrs["shards"] = labels
    ds = make_dataset({}, lags, table, attrs)
    for v in variables:
        kind = parts[0][v].dtype
        dtype = np.float32 if kind == np.float32 else np.float64
        arr = _AlongTime([p[v].variable for p in parts], rows, np.dtype(dtype))
        ds[v] = xr.Variable(("time", *parts[0][v].dims), indexing.LazilyIndexedArray(arr),
                            attrs=parts[0][v].attrs)
    return ds.assign_coords(time=[np.datetime64(p.attrs["first_day"], "ns") for p in parts])


def open_results(url: str | Path, *, cache_dir: str | Path | None = None,
                 endpoint_url: str = "") -> Any:
    """Open c4 results as a lazily read ``xarray.Dataset``.

    ``url`` (local path or ``s3://``) is either one Zarr store (``.../shards/2024-02.zarr``,
    ``.../stacks/year.zarr``) or a whole output store: then the completed shards with data,
    a single one as (pair, lag) variables, several stacked along a ``time`` dim (the shard's
    first day; pairs missing from a shard are NaN; shards without data are left out and
    named in the attribute ``shards_without_data``). S3 stores are read in place, only the
    chunks a selection touches (``cache_dir``: download the stores there first and read the
    copy). Variables: one per stack method (+ ``n_days``, ``n_windows``); coords ``lag`` (s;
    positive = source to receiver), ``pair``, ``source``, ``receiver``, ``component``,
    ``distance_km``, ``azimuth``, ``backazimuth``, station coordinates; attrs ``config``
    (TOML), ``c4_version``. Call ``.load()`` to read everything.
    """
    url = str(url).rstrip("/")

    def opener(loc: Location, rel: str) -> Any:
        if cache_dir is not None and is_s3(loc.url):
            return _download(loc, rel, Path(cache_dir))
        return open_store(loc, rel)

    if url.endswith(".zarr"):
        parent, _, name = url.rpartition("/")
        return opener(output_location(parent or ".", endpoint_url), name)
    loc = output_location(url, endpoint_url)
    shards = sorted(completed_shards(loc))
    if not shards:
        raise FileNotFoundError(f"{url}: no completed shard in the manifest (and not a .zarr)")
    parts, labels, empty = [], [], []
    for idx in shards:
        entry = shard_entry(loc, idx)
        if entry is None:  # withdrawn while listing
            continue
        label = str(entry.get("label", idx))
        if not entry.get("store"):
            empty.append(label)
            continue
        parts.append(opener(loc, entry["store"]))
        labels.append(label)
    if not parts:
        raise FileNotFoundError(f"{url}: no completed shard has data (shards without data: "
                                f"{', '.join(empty)})")
    ds = parts[0] if len(parts) == 1 else _along_time(parts, labels)
    ds.attrs["shards_without_data"] = empty
    return ds


def _station_match(ids: np.ndarray, station: str) -> np.ndarray:
    """Channel ids (``NET.STA.LOC.CHA``) of ``station``: ``STA``, ``NET.STA``, or a longer
    prefix of the id (``NET.STA.LOC``, a whole channel id)."""
    fields = station.split(".")
    split = np.char.split(ids.astype(str), ".")
    if len(fields) == 1:
        return np.array([len(f) > 1 and f[1] == station for f in split], bool)
    n = len(fields)
    return np.array([f[:n] == fields for f in split], bool)


def select(ds: Any, *, station: str | Sequence[str] | None = None,
           component: str | Sequence[str] | None = None,
           distance_km: tuple[float, float] | None = None,
           pair: str | Sequence[str] | None = None) -> Any:
    """The pairs of ``ds`` (from :func:`open_results`) matching every criterion given, still
    lazy: ``station`` (``STA``, ``NET.STA`` or a channel id; several: any of them) as source
    or receiver, ``component`` (``ZZ``, or several), ``distance_km`` = (min, max) inclusive,
    ``pair`` labels. Only per-pair coordinates are read to choose."""
    keep = np.ones(ds.sizes["pair"], bool)
    if station is not None:
        names = [station] if isinstance(station, str) else list(station)
        src = np.asarray(ds["source"].values).astype(str)
        rcv = np.asarray(ds["receiver"].values).astype(str)
        hit = np.zeros_like(keep)
        for s in names:
            hit |= _station_match(src, s) | _station_match(rcv, s)
        keep &= hit
    if component is not None:
        comps = [component] if isinstance(component, str) else list(component)
        keep &= np.isin(np.asarray(ds["component"].values).astype(str), comps)
    if distance_km is not None:
        lo, hi = (float(x) for x in distance_km)
        if lo > hi:
            raise ValueError(f"distance_km=({lo}, {hi}): min exceeds max")
        d = np.asarray(ds["distance_km"].values, np.float64)
        keep &= (d >= lo) & (d <= hi)
    if pair is not None:
        labels = [pair] if isinstance(pair, str) else list(pair)
        keep &= np.isin(np.asarray(ds["pair"].values).astype(str), labels)
    return ds.isel(pair=np.flatnonzero(keep))



def _kept_steps(loc: Location, rel: str, wanted: set[dt.date], n_days: int
                ) -> tuple[DailyResult, list[np.datetime64]] | None:
    """The sub-stacks of a ``substack:N`` product whose blocks hold a day of ``wanted``."""
    ds = open_store(loc, rel)
    starts = [dt.date.fromisoformat(str(t)[:10]) for t in ds["time"].values]
    steps = [i for i, s in enumerate(starts)
             if any(s <= d < s + dt.timedelta(days=n_days) for d in wanted)]
    if not steps:
        return None
    counts = np.asarray(ds["n_windows"].isel(time=steps).values).T
    rows = np.flatnonzero(counts.sum(axis=1) > 0)
    data = np.asarray(ds["correlation"].isel(time=steps, pair=rows).values, np.float32)
    pairs = {c: np.asarray(ds[c].values)[rows] for c in ("pair", *PAIR_COORDS) if c in ds.coords}
    result = DailyResult(starts[steps[0]], data.transpose(1, 0, 2), counts[rows],
                         np.asarray(ds["lag"].values), pairs)
    return result, [np.datetime64(starts[i].isoformat(), "ms") for i in steps]


def open_daily(url: str | Path, days: Iterable[dt.date] | None = None, *,
               endpoint_url: str = "", fingerprint: str | None = None) -> Any:
    """Daily correlations as an ``xarray.Dataset`` with ``correlation`` (time, pair, lag) and
    ``n_windows`` (time, pair); one time step per day and sub-stack group (``output.daily =
    substack:N``: per block of N days, at its first day). Pairs absent on a day are NaN
    (``n_windows`` 0); days without data are absent. FileNotFoundError when no day with data
    was kept (``output.daily = none`` keeps only the shard stacks). Days made with different
    settings are never mixed: a ValueError names the fingerprints unless ``fingerprint``
    chooses the days of one."""
    from c4.dailyproduct import kept_store

    loc = output_location(str(url), endpoint_url)
    wanted = sorted(days) if days is not None else sorted(completed_days(loc))
    results: list[tuple[DailyResult, list[np.datetime64]]] = []
    substacks: dict[str, tuple[int, set[dt.date]]] = {}
    not_kept = set()
    prints: dict[str, list[str]] = {}
    for day in wanted:
        entry = day_entry(loc, day)
        if entry is None or not entry.get("parts"):
            continue
        if fingerprint is not None and entry.get("fingerprint") != fingerprint:
            continue
        prints.setdefault(str(entry.get("fingerprint")), []).append(day.isoformat())
        if not loc.exists(daily_key(day, entry["parts"][0])):
            choice, rel, _ = kept_store(loc, entry)
            if choice.kind == "substack" and rel is not None:
                substacks.setdefault(rel, (choice.days, set()))[1].add(day)
                continue
            if not choice.keeps_days or rel is None:
                not_kept.add(str(choice))
                continue
        r = read_daily(loc, day)
        group_s = float(entry.get("group_seconds") or 86400.0)
        results.append((r, [np.datetime64(day.isoformat(), "ms")
                            + np.timedelta64(round(g * group_s * 1000), "ms")
                            for g in range(r.data.shape[1])]))
    if len(prints) > 1:
        said = "; ".join(f"{fp}: {len(d)} day(s) from {d[0]}" for fp, d in sorted(prints.items()))
        raise ValueError(f"{url}: the completed days were made with different settings "
                         f"({said}); pass fingerprint= to open the days of one")
    for rel, (n, these) in substacks.items():
        found = _kept_steps(loc, rel, these, n)
        if found is not None:
            results.append(found)
    if not results:
        why = f" (output.daily = {', '.join(sorted(not_kept))})" if not_kept else ""
        raise FileNotFoundError(f"{url}: no completed day with kept daily data{why}")
    results.sort(key=lambda rt: rt[1][0])
    table = _union_pairs([r.pairs for r, _ in results])
    index = {n: i for i, n in enumerate(table["pair"])}
    n_t = sum(len(times) for _, times in results)
    lags = results[0][0].lags
    corr = np.full((n_t, len(index), len(lags)), np.nan, np.float32)
    nwin = np.zeros((n_t, len(index)), np.int64)
    t = 0
    for r, times in results:
        rows = [index[str(n)] for n in r.pairs["pair"]]
        for g in range(len(times)):
            corr[t, rows] = r.data[:, g]
            nwin[t, rows] = r.counts[:, g]
            t += 1
    ds = make_dataset({}, lags, table, {"fingerprint": next(iter(prints))}, extra={
        "correlation": (("time", "pair", "lag"), corr), "n_windows": (("time", "pair"), nwin)})
    return ds.assign_coords(time=[s for _, times in results for s in times])
