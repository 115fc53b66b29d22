"""The results store: daily correlations, shard stacks (Zarr v3), and the resume manifest.

Layout below ``output.output`` (a local directory or ``s3://bucket/prefix``)::

    daily/YYYY-MM-DD/part-PPPPP.npz one day's correlations of the pairs in partition PPPPP
    shards/<label>.zarr/            a shard's stacks, label 2024-02 (month) or 2024-02-03 (day)
    stacks/<name>.zarr/             longer stacks written by `c4 stack`
    manifest/days/YYYY-MM-DD.json   a finished day (written after its daily file)
    manifest/incomplete/YYYY-MM-DD.json a day that was empty or failed (:mod:`c4.days`)
    manifest/shards/NNNN.json       a finished shard (written after its whole Zarr store)

Each ``.zarr`` product is a folder with a completion marker naming its current version, replaced
atomically (:mod:`c4.products`). A manifest entry is always written *last*, as one small
object, so a day or shard is complete exactly when its entry exists: a crash or Spot reclaim
can leave a partial file but never a partial file marked complete. Pairs are split into at most
``output.pair_partitions`` partitions by blocks of their two channels (:func:`partition_of`), so
a day is written, and a stack built, one partition at a time and memory stays bounded however
many pairs a network has. See ``docs/results.md`` for the variables and attributes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from c4.objstore import Location

log = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    """``open_results``, ``open_daily`` and ``select`` live in :mod:`c4.results` (imported on
    first use)."""
    if name in ("open_daily", "open_results", "select"):
        from c4 import results

        return getattr(results, name)
    raise AttributeError(f"module 'c4.store' has no attribute {name!r}")

__all__ = [
    "DailyResult",
    "channel_blocks",
    "completed_days",
    "completed_shards",
    "day_entry",
    "output_location",
    "partition_blocks",
    "partition_of",
    "product_attrs",
    "read_daily",
    "shard_entry",
    "zarr_encoding",
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


PARTITIONING = "channel-blocks"
"""Day entries' ``partitioning``: the scheme of :func:`partition_of`. Days without it were
written by an earlier c4 that partitioned by a hash of the pair name; they are re-partitioned
when read."""


def partition_blocks(n_parts: int) -> int:
    """Channel blocks per side of ``n_parts`` pair partitions: ``floor(sqrt(n_parts))``."""
    if n_parts < 1:
        raise ValueError(f"n_parts: must be at least 1, got {n_parts}")
    return math.isqrt(n_parts)


def channel_blocks(channels: Sequence[str] | np.ndarray, n_blocks: int) -> np.ndarray:
    """Block of each channel id (``NET.STA.LOC.CHA``): CRC-32 of the id modulo ``n_blocks``.

    It depends on the id alone, so a channel keeps its block on every day, whichever other
    channels have data that day."""
    return np.fromiter((zlib.crc32(str(c).encode()) % n_blocks for c in channels), np.int64,
                       count=len(channels))


def partition_of(names: Iterable[str], n_parts: int) -> np.ndarray:
    """Partition of each pair name ``SOURCE_RECEIVER``: ``source block x B + receiver block``.

    Channels are hashed into ``B = floor(sqrt(n_parts))`` blocks by :func:`channel_blocks`, and
    partition ``(a, b)`` holds the pairs whose source lies in block ``a`` and receiver in
    block ``b`` (``B**2 <= n_parts`` partitions, numbered ``a * B + b``). A pair's partition
    therefore depends on its two channel ids only and is the same on every day, whichever
    channels come and go (resume and stacking read the same partition on every day); and a
    partition's pairs are all pairs between two sets of about ``channels / B`` channels, so
    the correlation kernel's 16 x 16 channel tiles stay as full as in one call of the whole
    day (a hash of the pair name would scatter each partition over the whole network)."""
    arr = np.asarray(names if isinstance(names, np.ndarray) else list(names), dtype=str)
    n_blocks = partition_blocks(n_parts)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    split = np.char.partition(arr, "_")
    ids, inverse = np.unique(np.concatenate([split[:, 0], split[:, 2]]), return_inverse=True)
    blocks = channel_blocks(ids, n_blocks)[inverse.ravel()]
    return blocks[:len(arr)] * n_blocks + blocks[len(arr):]


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
    """A finished day's correlations: one partition, or (``part=None``) all of them; from the
    work files while its shard runs, then from the shard's kept product
    (:mod:`c4.dailyproduct`: FileNotFoundError when ``output.daily`` kept no days)."""
    loc = _loc(url, endpoint_url)
    if part is not None and loc.exists(daily_key(day, part)):
        return DailyResult.load(day, loc.read_bytes(daily_key(day, part)))
    entry = day_entry(loc, day)
    if entry is None or not entry.get("parts"):
        raise FileNotFoundError(f"{loc.url}: day {day} is not complete or has no correlations")
    if loc.exists(daily_key(day, entry["parts"][0])):
        if part is not None:
            raise FileNotFoundError(f"{loc.url}: day {day} has no partition {part}")
        return concat_days(day, [read_daily(loc, day, p) for p in entry["parts"]])
    from c4.dailyproduct import kept_day  # the shard is finished: its kept product

    found = kept_day(loc, entry, part, int(entry.get("n_parts") or 1))
    if found is None:
        raise FileNotFoundError(f"{loc.url}: day {day} has no partition {part}")
    return found


def read_partition(loc: Location, day: dt.date, entry: dict[str, Any], part: int,
                   n_parts: int) -> DailyResult | None:
    """The pairs of ``day`` in partition ``part`` of ``n_parts``, or None if it has none.

    Days written with another number of partitions or another partitioning (an earlier c4)
    are read whole and filtered (slower)."""
    if entry.get("n_parts") == n_parts and entry.get("partitioning") == PARTITIONING:
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


SHARD_BYTES = 256 << 20
"""Target size of one Zarr shard (one object) of a per-pair variable, bytes."""
CHUNK_BYTES = 256 << 10
"""Target size of one inner chunk (one ranged read) of a per-pair variable, bytes: about 8
pairs of 8001 float32 lags; writing costs ~0.3 ms per chunk, so smaller chunks slow writes."""
COORD_CHUNK = 1 << 16
"""Elements per chunk of the per-pair coordinates."""


def zarr_encoding(ds: Any, shard_bytes: int = SHARD_BYTES,
                  chunk_bytes: int = CHUNK_BYTES) -> dict[str, dict[str, Any]]:
    """Zarr v3 layout of a results dataset: every variable with a ``pair`` dim is sharded
    along ``pair``: shards (objects) of about ``shard_bytes``, inner chunks (ranged reads) of
    about ``chunk_bytes`` holding a few whole pairs (every lag, every time step: one pair's
    trace, or all its days, is one read), so a store is a few objects per variable however
    many pairs it holds, compressed by :func:`_trace_codec`; 1-D coordinates are chunked by
    :data:`COORD_CHUNK` (zarr's default zstd)."""
    out: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        if "pair" not in var.dims:
            continue
        axis = var.dims.index("pair")
        if var.ndim == 1:
            out[str(name)] = {"chunks": (COORD_CHUNK,)}
            continue
        per_pair = max(1, var.size // max(1, var.shape[axis]) * var.dtype.itemsize)
        inner_n = max(1, chunk_bytes // per_pair)
        shard_n = max(1, shard_bytes // per_pair // inner_n) * inner_n
        inner = tuple(inner_n if i == axis else max(1, n) for i, n in enumerate(var.shape))
        shard = tuple(shard_n if i == axis else max(1, n) for i, n in enumerate(var.shape))
        out[str(name)] = {"chunks": inner, "shards": shard, "compressors": [_trace_codec()]}
    return out


def _trace_codec() -> Any:
    """Blosc LZ4 with bit shuffle: on real correlations 87 % of the float32 bytes (46 % for
    float16) at about the speed of writing them raw; zstd keeps 93 % at half the speed
    (benches/test_bench_store.py, benches/RESULTS.md)."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")


def write_dataset(ds: Any, loc: Location, rel: str, scratch: Path) -> None:
    """Write ``ds`` as a Zarr v3 store locally under ``scratch``, then copy it to ``rel``."""
    write_datasets(iter([ds]), loc, rel, scratch)


def write_datasets(parts: Iterator[Any], loc: Location, rel: str, scratch: Path) -> int:
    """Write datasets one after the other along ``pair`` into one Zarr v3 store (locally under
    ``scratch``), holding one in memory at a time, then publish it as the product ``rel``
    (:func:`c4.products.publish`: a new version, then its completion marker, then the old
    version deleted); returns the pairs written (nothing is written for 0)."""
    from c4.products import publish

    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="c4-product-", dir=scratch) as tmp:
        local = Path(tmp) / Path(rel).name
        n = 0
        for ds in parts:
            if n == 0:
                ds.to_zarr(local, mode="w", zarr_format=3, consolidated=False,
                           encoding=zarr_encoding(ds))
            else:
                ds.to_zarr(local, append_dim="pair", zarr_format=3, consolidated=False)
            n += ds.sizes["pair"]
        if n:
            publish(local, loc, rel)
    return n


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
    from c4.products import resolve_product

    parent, _, name = str(url).rstrip("/").rpartition("/")
    loc = output_location(parent or ".", endpoint_url)
    store = resolve_product(loc, name)
    if store is None:
        return None
    attrs: dict[str, Any] = json.loads(loc.read_bytes(f"{store}/zarr.json")).get("attributes",
                                                                                   {})
    return attrs
