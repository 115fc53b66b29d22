"""One day's pairs and their correlation, partition by partition: steps 5-6 of a shard.

:func:`make_pairs` lists the channel pairs of a day with their coordinates (vectorised: 1.1 M
pairs of 1500 channels take a fraction of a second; the geodesic of each *station* pair is
computed once per shard and cached). :func:`correlate_partitions` correlates the pairs one
pair partition (:func:`c4.store.partition_of`: blocks of source channels x blocks of receiver
channels) at a time, several small partitions per kernel call, so every call keeps the 16 x 16
channel tiles of the whole day's call, and hands each partition to a writer thread while the
next call runs: at most two calls' correlations are in memory, and the main thread copies
nothing (each partition is a view of the kernel's output, already in pair-name order).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from c4 import kernels
from c4.config import Config, ProcessingConfig
from c4.sources import ChannelId
from c4.stations import StationInfo, pair_geometry
from c4.store import DailyResult, channel_blocks, partition_blocks

if TYPE_CHECKING:
    from c4.pipeline import Timings

__all__ = ["CALL_PAIRS", "DayParts", "GeometryCache", "correlate_partitions", "make_pairs"]

CALL_PAIRS = 4096
"""Most pairs of several whole partitions put into one kernel call: enough to fill its 16 x 16
channel tiles, few enough that the writes of the day's last call (which nothing overlaps) are
short."""

GeometryCache = dict[tuple[float, float, float, float], tuple[float, float, float]]
"""(distance km, azimuth, back-azimuth) per (source lat, lon, receiver lat, lon)."""


def _tight(values: np.ndarray) -> np.ndarray:
    """A string array in the narrowest dtype that holds its values (as ``np.array(list)``)."""
    if values.size == 0:
        return values
    return values.astype(f"U{int(np.char.str_len(values).max())}")


def make_pairs(channels: list[ChannelId], coords: dict[str, StationInfo], config: Config,
               orientations: dict[str, float] | None = None,
               geometry: GeometryCache | None = None,
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Channel index pairs (i <= j, sorted) to correlate and their per-pair coordinates
    (``coords``: the stations' coordinates on the day, per ``NET.STA``; ``orientations``: the
    horizontal channels' azimuths in degrees on the day, per ``NET.STA.LOC.CHA``;
    ``geometry``: a cache of station-pair geodesics kept across days, filled here)."""
    orientations = orientations or {}
    geometry = {} if geometry is None else geometry
    p = config.processing
    n = len(channels)
    ii, jj = np.triu_indices(n, k=0 if p.autocorr else 1)
    comp = np.array([c.component for c in channels], dtype=str).reshape(n)
    if not p.cross_components:
        same = comp[ii] == comp[jj]
        ii, jj = ii[same], jj[same]
    stations = sorted({c.station_id for c in channels})
    s_of = {s: k for k, s in enumerate(stations)}
    sta = np.array([s_of[c.station_id] for c in channels], np.int64).reshape(n)
    info = [coords[s] for s in stations]
    lat = np.array([s.latitude for s in info], np.float64)
    lon = np.array([s.longitude for s in info], np.float64)
    elev = np.array([s.elevation for s in info], np.float64)
    keys, inverse = np.unique(sta[ii] * max(len(stations), 1) + sta[jj], return_inverse=True)
    geo = np.empty((len(keys), 3), np.float64)
    for k, key in enumerate(keys.tolist()):
        a, b = divmod(key, max(len(stations), 1))
        where = (lat[a], lon[a], lat[b], lon[b])
        if where not in geometry:
            geometry[where] = pair_geometry(info[a], info[b])
        geo[k] = geometry[where]
    dist, az, baz = (geo[inverse.ravel(), c] for c in range(3))
    near = dist <= p.max_distance_km
    ii, jj, dist, az, baz = ii[near], jj[near], dist[near], az[near], baz[near]
    pairs = np.stack([ii, jj], axis=1).astype(np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return pairs, {}
    ids = np.array([c.id for c in channels], dtype=str)
    orient = np.array([orientations.get(c.id, np.nan) for c in channels], np.float64)
    sa, sb = sta[ii], sta[jj]
    table = {
        "pair": _tight(np.char.add(np.char.add(ids[ii], "_"), ids[jj])),
        "source": _tight(ids[ii]), "receiver": _tight(ids[jj]),
        "component": _tight(np.char.add(comp[ii], comp[jj])),
        "distance_km": dist, "azimuth": az, "backazimuth": baz,
        "source_latitude": lat[sa], "source_longitude": lon[sa], "source_elevation": elev[sa],
        "receiver_latitude": lat[sb], "receiver_longitude": lon[sb],
        "receiver_elevation": elev[sb],
        "source_orientation": orient[ii], "receiver_orientation": orient[jj],
    }
    return pairs, table


@dataclass
class DayParts:
    """What :func:`correlate_partitions` wrote."""

    parts: list[int] = field(default_factory=list)
    """Partitions written, ascending."""
    n_pairs: int = 0
    """Pairs written (with at least one common valid window)."""
    n_dropped: int = 0
    """Pairs without a common valid window (not written)."""


def _correlate(spec: kernels.Spectra, rows: np.ndarray, p: ProcessingConfig,
               threads: int | None) -> kernels.Correlations:
    """Correlations of the pairs ``rows`` ((n, 2) channel indices), ``p.pair_block`` pairs per
    kernel call, in one (n, groups, lags) array (no copy when one call holds them all)."""
    out: np.ndarray | None = None
    counts: np.ndarray | None = None
    cc = None
    for b0 in range(0, len(rows), p.pair_block):
        cc = kernels.correlate(spec, rows[b0:b0 + p.pair_block], p.maxlag,
                               cc_method=p.cc_method, substack=p.substack,
                               smoothspect_n=p.smoothspect_n, threads=threads)
        if len(rows) <= p.pair_block:
            return cc
        if out is None or counts is None:
            out = np.empty((len(rows), *cc.data.shape[1:]), np.float32)
            counts = np.empty((len(rows), cc.counts.shape[1]), np.uint32)
        out[b0:b0 + len(cc.data)] = cc.data
        counts[b0:b0 + len(cc.data)] = cc.counts
    assert cc is not None and out is not None and counts is not None
    return kernels.Correlations(out, counts, cc.lags)


def _partition_order(part_of: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Pair indices sorted by partition, then by pair name (the order written)."""
    order = np.argsort(part_of, kind="stable")
    sorted_names = names[order]
    same = part_of[order][1:] == part_of[order][:-1]
    if bool(np.all(sorted_names[1:][same] >= sorted_names[:-1][same])):
        return order  # pairs come in channel order, which is name order: nothing to sort
    return np.lexsort((names, part_of))


def _groups(counts: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive runs ``[first, last)`` of partitions holding at most ``limit`` pairs
    together (a partition larger than ``limit`` is a run of its own)."""
    runs, first, total = [], 0, 0
    for k, n in enumerate(counts.tolist()):
        if k > first and total + n > limit:
            runs.append((first, k))
            first, total = k, 0
        total += n
    if len(counts):
        runs.append((first, len(counts)))
    return runs


def correlate_partitions(
    day: dt.date, spec: kernels.Spectra, channels: list[str], pairs: np.ndarray,
    table: dict[str, np.ndarray], n_parts: int, p: ProcessingConfig,
    write: Callable[[DailyResult, int], None], t: Timings,
) -> DayParts:
    """Correlate ``pairs`` (channel indices into ``spec`` and ``channels``, the channel ids)
    and ``write(result, part)`` the pairs of each partition of :func:`c4.store.partition_of`
    that have a common valid window, sorted by pair name, partitions in ascending order.

    Pairs are sorted by partition and each kernel call takes as many whole partitions as fit
    in :data:`CALL_PAIRS` (and ``p.pair_block``) pairs; a partition larger than that is a call
    of its own, split into calls of ``p.pair_block`` pairs. Small partitions so still fill the
    kernel's tiles; each partition's result is a view of the call's output. ``write`` runs in
    one writer thread, overlapping the next call: at most two calls' outputs (at most
    2 x ``pair_block`` pairs) are held. Stage ``correlate`` of ``t`` is the
    kernel time, ``write`` the time spent waiting for the writer.
    """
    threads = p.threads or None
    n_blocks = partition_blocks(n_parts)
    blocks = channel_blocks(channels, n_blocks)
    part_of = blocks[pairs[:, 0]] * n_blocks + blocks[pairs[:, 1]]
    order = _partition_order(part_of, table["pair"])
    parts, counts = np.unique(part_of, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)])
    done = DayParts()
    written: list[list[Future[None]]] = []  # each call's writes
    with ThreadPoolExecutor(1, thread_name_prefix="c4-write") as writer:
        try:
            for g0, g1 in _groups(counts, min(CALL_PAIRS, p.pair_block)):
                with t.stage("write"):  # the outputs of two calls ago are written
                    for f in (f for call in written[:-1] for f in call):
                        f.result()
                    del written[:-1]
                lo, hi = int(starts[g0]), int(starts[g1])
                with t.stage("correlate"):
                    cc = _correlate(spec, pairs[order[lo:hi]], p, threads)
                pending: list[Future[None]] = []
                for k in range(g0, g1):
                    a, b = int(starts[k]) - lo, int(starts[k + 1]) - lo
                    sel = order[lo + a:lo + b]
                    data, n_win = cc.data[a:b], cc.counts[a:b]
                    keep = n_win.any(axis=1)
                    n_keep = int(np.count_nonzero(keep))
                    done.n_dropped += len(sel) - n_keep
                    if n_keep == 0:
                        continue
                    if n_keep < len(sel):
                        sel, data, n_win = sel[keep], data[keep], n_win[keep]
                    result = DailyResult(day, data, n_win, cc.lags,
                                         {name: v[sel] for name, v in table.items()})
                    pending.append(writer.submit(write, result, int(parts[k])))
                    done.parts.append(int(parts[k]))
                    done.n_pairs += n_keep
                del cc
                written.append(pending)
            with t.stage("write"):
                for f in (f for call in written for f in call):
                    f.result()
        except BaseException:
            writer.shutdown(wait=True, cancel_futures=True)
            raise
    return done
