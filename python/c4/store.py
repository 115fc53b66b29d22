"""The results store: daily correlations, shard stacks (Zarr v3), and the resume manifest.

Layout below ``output.output`` (a local directory or ``s3://bucket/prefix``)::

    daily/YYYY-MM-DD/part-PPPPP.npz one day's correlations of the pairs in partition PPPPP
    shards/<label>.zarr/            a shard's stacks, label 2024-02 (month) or 2024-02-03 (day)
    stacks/<name>.zarr/             longer stacks written by `c4 stack`
    manifest/days/YYYY-MM-DD.json   a finished day (written after its daily file)
    manifest/incomplete/YYYY-MM-DD.json a day that was empty or failed (:mod:`c4.days`)
    manifest/shards/NNNN.json       a finished shard (written after its whole Zarr store)

A manifest entry is always written *last*, as one small object, so a product is complete exactly
when its entry exists: a crash or Spot reclaim can leave a partial file but never a partial file
marked complete. Pairs are split into ``output.pair_partitions`` partitions by a hash of their
name (:func:`partition_of`), so a day is written, and a stack built, one partition at a time
and memory stays bounded however many pairs a network has. See ``docs/results.md`` for the
variables and attributes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from c4.objstore import Location, is_s3

log = logging.getLogger(__name__)

__all__ = [
    "DailyResult",
    "completed_days",
    "completed_shards",
    "day_entry",
    "open_daily",
    "open_results",
    "output_location",
    "partition_of",
    "product_attrs",
    "read_daily",
    "shard_entry",
]

SIGN_CONVENTION = ("positive lag: energy travelling from the source (first channel of the pair) "
                   "to the receiver (second channel)")
PAIR_COORDS = ("source", "receiver", "component", "distance_km", "azimuth", "backazimuth",
               "source_latitude", "source_longitude", "source_elevation",
               "receiver_latitude", "receiver_longitude", "receiver_elevation",
               "source_orientation", "receiver_orientation")


def output_location(url: str, endpoint_url: str = "") -> Location:
    """The store at ``url`` (signed S3 access: outputs are private)."""
    return Location(str(url), anonymous=False, endpoint_url=endpoint_url)


def _loc(url: str | Location, endpoint_url: str = "") -> Location:
    return url if isinstance(url, Location) else output_location(url, endpoint_url)


# ------------------------------------------------------------------------------------- daily
@dataclass
class DailyResult:
    """One day's correlations of every pair with data that day."""

    day: dt.date
    data: np.ndarray
    """float32 (pairs, groups, lags): one group per sub-stack (one without sub-stacks)."""
    counts: np.ndarray
    """uint32 (pairs, groups): windows stacked (0: no common window)."""
    lags: np.ndarray
    """Lag of each sample in s (positive: source to receiver)."""
    pairs: dict[str, np.ndarray]
    """Per-pair coordinates: ``pair`` (names) and :data:`PAIR_COORDS`."""

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        arrays: dict[str, Any] = {"data": self.data, "counts": self.counts, "lags": self.lags}
        arrays.update({f"pair__{k}": v for k, v in self.pairs.items()})
        np.savez(buf, **arrays)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())

    @classmethod
    def load(cls, day: dt.date, raw: bytes) -> DailyResult:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            pairs = {k[len("pair__"):]: z[k] for k in z.files if k.startswith("pair__")}
            return cls(day, z["data"], z["counts"], z["lags"], pairs)


    def select(self, rows: np.ndarray) -> DailyResult:
        """The pairs at ``rows`` (indexes or a boolean mask)."""
        return DailyResult(self.day, self.data[rows], self.counts[rows], self.lags,
                           {k: v[rows] for k, v in self.pairs.items()})


def partition_of(names: Iterable[str], n_parts: int) -> np.ndarray:
    """Partition of each pair name: CRC-32 of the name modulo ``n_parts`` (stable everywhere)."""
    return np.array([zlib.crc32(str(n).encode()) % n_parts for n in names], np.int64)


def daily_key(day: dt.date, part: int) -> str:
    return f"daily/{day.isoformat()}/part-{part:05d}.npz"


def concat_days(day: dt.date, parts: list[DailyResult]) -> DailyResult:
    """One result of several partitions' results of ``day``, pairs sorted by name."""
    names = np.concatenate([r.pairs["pair"] for r in parts])
    order = np.argsort(names.astype(str), kind="stable")
    return DailyResult(
        day, np.concatenate([r.data for r in parts])[order],
        np.concatenate([r.counts for r in parts])[order], parts[0].lags,
        {k: np.concatenate([r.pairs[k] for r in parts])[order] for k in parts[0].pairs})


def read_daily(url: str | Location, day: dt.date, part: int | None = None,
               endpoint_url: str = "") -> DailyResult:
    """A finished day's correlations: one partition, or (``part=None``) all of them."""
    loc = _loc(url, endpoint_url)
    if part is not None:
        return DailyResult.load(day, loc.read_bytes(daily_key(day, part)))
    entry = day_entry(loc, day)
    if entry is None or not entry.get("parts"):
        raise FileNotFoundError(f"{loc.url}: day {day} is not complete or has no correlations")
    return concat_days(day, [read_daily(loc, day, p) for p in entry["parts"]])


def read_partition(loc: Location, day: dt.date, entry: dict[str, Any], part: int,
                   n_parts: int) -> DailyResult | None:
    """The pairs of ``day`` in partition ``part`` of ``n_parts``, or None if it has none.

    Days written with another number of partitions are read whole and filtered (slower)."""
    if entry.get("n_parts") == n_parts:
        return read_daily(loc, day, part) if part in entry.get("parts", []) else None
    whole = read_daily(loc, day)
    mask = partition_of(whole.pairs["pair"], n_parts) == part
    return whole.select(mask) if mask.any() else None


def day_entry(url: str | Location, day: dt.date, endpoint_url: str = "") -> dict[str, Any] | None:
    """The manifest entry of ``day``, or None if the day is not complete."""
    loc = _loc(url, endpoint_url)
    key = f"manifest/days/{day.isoformat()}.json"
    if not loc.exists(key):
        return None
    return json.loads(loc.read_bytes(key))


def write_day_part(loc: Location, result: DailyResult, part: int, scratch: Path) -> None:
    """Write one partition of a day (its manifest entry comes after all partitions)."""
    path = scratch / f"part-{part:05d}.npz"
    result.save(path)
    loc.put(path, daily_key(result.day, part))
    path.unlink()


def write_day_entry(loc: Location, entry: dict[str, Any]) -> None:
    """Mark a day complete: ``entry`` lists its ``parts`` (empty: no correlations that day)
    and ``n_parts``; written after every partition file."""
    loc.write_bytes(f"manifest/days/{entry['day']}.json",
                    json.dumps(entry, indent=1, sort_keys=True).encode())


def completed_days(url: str | Location, fingerprint: str | None = None,
                   endpoint_url: str = "") -> set[dt.date]:
    """Days with a manifest entry (optionally only those made with config ``fingerprint``)."""
    loc = _loc(url, endpoint_url)
    out = set()
    for name in loc.list_names("manifest/days"):
        if not name.endswith(".json"):
            continue
        day = dt.date.fromisoformat(name[:-5])
        if fingerprint is not None:
            entry = json.loads(loc.read_bytes(f"manifest/days/{name}"))
            if entry.get("fingerprint") != fingerprint:
                continue
        out.add(day)
    return out


# ------------------------------------------------------------------------------------ shards
def shard_entry(url: str | Location, index: int, endpoint_url: str = "") -> dict[str, Any] | None:
    """Manifest entry of shard ``index`` or None."""
    loc = _loc(url, endpoint_url)
    key = f"manifest/shards/{index:04d}.json"
    return json.loads(loc.read_bytes(key)) if loc.exists(key) else None


def completed_shards(url: str | Location, endpoint_url: str = "") -> set[int]:
    """Indexes of the shards whose results are complete in the store at ``url``."""
    loc = _loc(url, endpoint_url)
    return {int(n[:-5]) for n in loc.list_names("manifest/shards") if n.endswith(".json")}


def write_shard_entry(loc: Location, index: int, entry: dict[str, Any]) -> None:
    loc.write_bytes(f"manifest/shards/{index:04d}.json",
                    json.dumps(entry, indent=1, sort_keys=True).encode())


# --------------------------------------------------------------------------------- datasets
def make_dataset(
    stacks: dict[str, np.ndarray], lags: np.ndarray, pairs: dict[str, np.ndarray],
    attrs: dict[str, Any], extra: dict[str, tuple[tuple[str, ...], np.ndarray]] | None = None,
) -> Any:
    """An ``xarray.Dataset`` with one (pair, lag) variable per stack method."""
    import xarray as xr

    coords: dict[str, Any] = {"pair": np.asarray(pairs["pair"], dtype=object),
                              "lag": ("lag", np.asarray(lags, np.float64), {"units": "s"})}
    for name in PAIR_COORDS:
        if name in pairs:
            values = pairs[name]
            if values.dtype.kind == "U":
                values = values.astype(object)
            coords[name] = ("pair", values)
    variables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
        m: (("pair", "lag"), np.asarray(v, np.float32)) for m, v in stacks.items()}
    for name, (dims, values) in (extra or {}).items():
        variables[name] = (dims, values)
    ds = xr.Dataset(variables, coords=coords, attrs=attrs)
    ds["lag"].attrs.update(units="s", long_name="lag", sign_convention=SIGN_CONVENTION)
    if "distance_km" in ds.coords:
        ds["distance_km"].attrs["units"] = "km"
    return ds


def write_dataset(ds: Any, loc: Location, rel: str, scratch: Path) -> None:
    """Write ``ds`` as a Zarr v3 store locally under ``scratch``, then copy it to ``rel``."""
    write_datasets(iter([ds]), loc, rel, scratch)


def write_datasets(parts: Iterator[Any], loc: Location, rel: str, scratch: Path) -> int:
    """Write datasets one after the other along ``pair`` into one Zarr v3 store (locally under
    ``scratch``, then copied to ``rel``), holding one in memory at a time; returns the pairs
    written (nothing is written for 0)."""
    local = scratch / Path(rel).name
    shutil.rmtree(local, ignore_errors=True)
    n = 0
    for ds in parts:
        if n == 0:
            ds.to_zarr(local, mode="w", zarr_format=3, consolidated=False)
        else:
            ds.to_zarr(local, append_dim="pair", zarr_format=3, consolidated=False)
        n += ds.sizes["pair"]
    if n:
        loc.put_tree(local, rel)
    shutil.rmtree(local, ignore_errors=True)
    return n


def _open_local_zarr(path: Path, load: bool) -> Any:
    import xarray as xr

    ds = xr.open_zarr(path, consolidated=False)
    for name in list(ds.coords):
        if ds[name].dtype.kind in "OT":
            values = np.array([str(v) for v in np.asarray(ds[name].values).ravel()])
            ds = ds.assign_coords({name: (ds[name].dims, values.reshape(ds[name].shape))})
    return ds.load() if load else ds


def _open_store(loc: Location, rel: str, cache_dir: Path | None) -> Any:
    if not is_s3(loc.url):
        return _open_local_zarr(loc.local_path(rel), load=False)
    if cache_dir is not None:
        dest = Path(cache_dir) / rel
        shutil.rmtree(dest, ignore_errors=True)
        loc.get_tree(rel, dest)
        return _open_local_zarr(dest, load=False)
    with tempfile.TemporaryDirectory(prefix="c4-results-") as tmp:
        loc.get_tree(rel, Path(tmp) / "store")
        return _open_local_zarr(Path(tmp) / "store", load=True)


def _union_pairs(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-pair coordinates of the sorted union of the pairs of ``tables``."""
    first: dict[str, tuple[int, int]] = {}
    for t, table in enumerate(tables):
        for i, name in enumerate(table["pair"]):
            first.setdefault(str(name), (t, i))
    names = sorted(first)
    out: dict[str, np.ndarray] = {"pair": np.array(names, dtype=object)}
    for key in PAIR_COORDS:
        if all(key in table for table in tables):
            out[key] = np.array([tables[first[n][0]][key][first[n][1]] for n in names])
    return out


def _pair_table(ds: Any) -> dict[str, np.ndarray]:
    return {"pair": np.asarray(ds["pair"].values).astype(str),
            **{c: np.asarray(ds[c].values) for c in PAIR_COORDS if c in ds.coords}}


def product_attrs(url: str, endpoint_url: str = "") -> dict[str, Any] | None:
    """Attributes of the one-store product at ``url`` (``.../stacks/name.zarr``: local path
    or ``s3://``) read without its data, or None when there is no such store."""
    parent, _, name = str(url).rstrip("/").rpartition("/")
    loc = output_location(parent or ".", endpoint_url)
    if not loc.exists(f"{name}/zarr.json"):
        return None
    attrs: dict[str, Any] = json.loads(loc.read_bytes(f"{name}/zarr.json")).get("attributes",
                                                                                  {})
    return attrs


def open_results(url: str, *, cache_dir: str | Path | None = None,
                 endpoint_url: str = "") -> Any:
    """Open c4 results as an ``xarray.Dataset``.

    ``url`` (local path or ``s3://``) is either one Zarr store (``.../shards/2024-02.zarr``,
    ``.../stacks/year.zarr``) or a whole output store: then the completed shards are returned,
    a single one as (pair, lag) variables, several stacked along a ``time`` dim (the shard's
    first day; pairs missing from a shard are NaN). S3 stores are downloaded: into
    ``cache_dir`` and opened lazily, or (default) into a temporary directory and loaded into
    memory. Variables: one per stack method (+ ``n_days``); coords ``lag`` (s; positive =
    source to receiver), ``pair``, ``source``, ``receiver``, ``component``, ``distance_km``,
    ``azimuth``, ``backazimuth``, station coordinates; attrs ``config`` (TOML), ``c4_version``.
    """
    url = str(url).rstrip("/")
    cache = Path(cache_dir) if cache_dir is not None else None
    if url.endswith(".zarr"):
        parent, _, name = url.rpartition("/")
        return _open_store(output_location(parent or ".", endpoint_url), name, cache)
    loc = output_location(url, endpoint_url)
    shards = sorted(completed_shards(loc))
    if not shards:
        raise FileNotFoundError(f"{url}: no completed shard in the manifest (and not a .zarr)")
    parts = []
    for idx in shards:
        entry = shard_entry(loc, idx)
        assert entry is not None
        parts.append(_open_store(loc, entry["store"], cache))
    if len(parts) == 1:
        return parts[0]
    table = _union_pairs([_pair_table(p) for p in parts])
    index = {n: i for i, n in enumerate(table["pair"])}
    lags = parts[0]["lag"].values
    variables = [v for v in parts[0].data_vars if all(v in p.data_vars for p in parts)]
    extra = {}
    for v in variables:
        dims = parts[0][v].dims
        shape = (len(parts), len(table["pair"]), *parts[0][v].shape[1:])
        arr = np.full(shape, np.nan, np.float64 if v == "n_days" else np.float32)
        for t, p in enumerate(parts):
            rows = [index[str(n)] for n in p["pair"].values]
            arr[t, rows] = p[v].values
        extra[v] = (("time", *dims), arr)
    attrs = {k: v for k, v in parts[0].attrs.items() if k not in {"first_day", "last_day",
                                                                   "shard", "days"}}
    ds = make_dataset({}, lags, table, attrs, extra=extra)
    return ds.assign_coords(time=[np.datetime64(p.attrs["first_day"]) for p in parts])


def open_daily(url: str, days: Iterable[dt.date] | None = None, *, endpoint_url: str = "",
               fingerprint: str | None = None) -> Any:
    """Daily correlations as an ``xarray.Dataset`` with ``correlation`` (time, pair, lag) and
    ``n_windows`` (time, pair); one time step per day and sub-stack group. Pairs absent on a
    day are NaN (``n_windows`` 0). Days made with different settings are never mixed: a
    ValueError names the fingerprints unless ``fingerprint`` chooses the days of one."""
    loc = output_location(url, endpoint_url)
    wanted = sorted(days) if days is not None else sorted(completed_days(loc))
    results: list[tuple[DailyResult, float]] = []
    prints: dict[str, list[str]] = {}
    for day in wanted:
        entry = day_entry(loc, day)
        if entry is None or not entry.get("parts"):
            continue
        if fingerprint is not None and entry.get("fingerprint") != fingerprint:
            continue
        prints.setdefault(str(entry.get("fingerprint")), []).append(day.isoformat())
        r = read_daily(loc, day)
        results.append((r, float(entry.get("group_seconds") or 86400.0)))
    if len(prints) > 1:
        said = "; ".join(f"{fp}: {len(d)} day(s) from {d[0]}" for fp, d in sorted(prints.items()))
        raise ValueError(f"{url}: the completed days were made with different settings "
                         f"({said}); pass fingerprint= to open the days of one")
    if not results:
        raise FileNotFoundError(f"{url}: no completed day with data")
    table = _union_pairs([r.pairs for r, _ in results])
    index = {n: i for i, n in enumerate(table["pair"])}
    n_t = sum(r.data.shape[1] for r, _ in results)
    lags = results[0][0].lags
    corr = np.full((n_t, len(index), len(lags)), np.nan, np.float32)
    nwin = np.zeros((n_t, len(index)), np.int64)
    times = []
    t = 0
    for r, group_s in results:
        rows = [index[str(n)] for n in r.pairs["pair"]]
        for g in range(r.data.shape[1]):
            corr[t, rows] = r.data[:, g]
            nwin[t, rows] = r.counts[:, g]
            times.append(np.datetime64(r.day.isoformat(), "ms")
                         + np.timedelta64(round(g * group_s * 1000), "ms"))
            t += 1
    ds = make_dataset({}, lags, table, {"fingerprint": next(iter(prints))}, extra={
        "correlation": (("time", "pair", "lag"), corr), "n_windows": (("time", "pair"), nwin)})
    return ds.assign_coords(time=times)
