"""The days of a results store, one bounded batch of pairs at a time (for every stack).

Pair partitions are read in order, each day's file of a partition once (a few days ahead, in
threads), and whole partitions are gathered while their daily correlations stay within
``limit`` bytes. A partition larger than ``limit`` (a long stack of a large network) has its
days spilled to a folder of scratch as ``.npy`` files as they are read, then comes back in
blocks of its pairs (sorted by name) of at most ``limit`` bytes each, read from the spilled
files through memory maps; a block holds every day of its pairs, so every stack method
(robust, selective, tf-PWS included) is exact. Held in memory: at most one batch, plus the
days being read ahead.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from c4.objstore import Location
from c4.store import DailyResult, concat_days, read_partition

__all__ = ["READ_AHEAD", "daily_batches"]

READ_AHEAD = 4
"""Daily files read concurrently (and held) ahead of the one being gathered."""


def _read_days(loc: Location, days: Sequence[dt.date], entries: Sequence[dict[str, Any]],
               part: int, n_parts: int) -> Iterator[DailyResult | None]:
    """Partition ``part`` of each day, in day order, up to :data:`READ_AHEAD` in flight."""
    with ThreadPoolExecutor(max_workers=READ_AHEAD) as pool:
        queue: deque[Future[DailyResult | None]] = deque()
        todo = iter(zip(days, entries, strict=True))
        for day, e in todo:
            queue.append(pool.submit(read_partition, loc, day, e, part, n_parts))
            if len(queue) >= READ_AHEAD:
                break
        while queue:
            result = queue.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                queue.append(pool.submit(read_partition, loc, nxt[0], nxt[1], part, n_parts))
            yield result


class _Spill:
    """Days of one partition on disk: each written as ``.npy`` files, read back memory-mapped."""

    def __init__(self, scratch: Path | None) -> None:
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="c4-stack-spill-", dir=scratch))
        self.n = 0

    def _save(self, a: np.ndarray) -> np.ndarray:
        if a.dtype.kind == "O":
            a = a.astype(str)
        path = self.dir / f"{self.n}.npy"
        self.n += 1
        np.save(path, a)
        return np.load(path, mmap_mode="r")  # type: ignore[no-any-return]

    def add(self, r: DailyResult) -> DailyResult:
        return DailyResult(r.day, self._save(r.data), self._save(r.counts), r.lags,
                           {k: self._save(v) for k, v in r.pairs.items()})

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _merge(days: Sequence[dt.date], batch: list[list[DailyResult | None]]) -> list[DailyResult]:
    """One result per day of the partitions in ``batch``, emptying ``batch`` as it goes."""
    out = []
    for i, day in enumerate(days):
        parts = [r for b in batch if (r := b[i]) is not None]
        for b in batch:
            b[i] = None
        if parts:
            out.append(parts[0] if len(parts) == 1 else concat_days(day, parts))
    return out


def _blocks(held: Sequence[DailyResult], limit: int) -> Iterator[list[DailyResult]]:
    """The days of ``held`` in blocks of pairs (sorted by name) of at most ``limit`` bytes of
    correlations each (a single pair may exceed it)."""
    names = sorted({str(n) for r in held for n in r.pairs["pair"]})
    index = {n: i for i, n in enumerate(names)}
    ranks = [np.array([index[str(n)] for n in r.pairs["pair"]], np.int64) for r in held]
    size = np.zeros(len(names), np.int64)
    for r, rank in zip(held, ranks, strict=True):
        size[rank] += r.data[0].nbytes if len(r.data) else 0
    lo = 0
    while lo < len(names):
        total = np.cumsum(size[lo:])
        hi = lo + max(1, int(np.searchsorted(total, limit, side="right")))
        block = []
        for r, rank in zip(held, ranks, strict=True):
            rows = np.flatnonzero((rank >= lo) & (rank < hi))
            if len(rows):
                block.append(r.select(rows))
        yield block
        lo = hi


def daily_batches(loc: Location, entries: Sequence[dict[str, Any]], n_parts: int,
                  limit: int, scratch: Path | None = None) -> Iterator[list[DailyResult]]:
    """The days of ``entries`` (day manifest entries, in day order) one batch of pairs at a
    time: per batch, one :class:`DailyResult` per day that has some of its pairs, in day order;
    each batch about ``limit`` bytes of daily correlations or less (see the module).
    ``scratch``: where large partitions are spilled (default: the system temp folder)."""
    days = [dt.date.fromisoformat(e["day"]) for e in entries]
    pending: list[list[DailyResult | None]] = []
    size = 0
    for part in range(n_parts):
        found: list[DailyResult | None] = []
        part_size = 0
        spill: _Spill | None = None
        try:
            for r in _read_days(loc, days, entries, part, n_parts):
                if r is not None and spill is None:
                    if pending and size + part_size + r.data.nbytes > limit:
                        yield _merge(days, pending)
                        pending, size = [], 0
                    if part_size + r.data.nbytes > limit:
                        spill = _Spill(scratch)
                        found = [None if x is None else spill.add(x) for x in found]
                if r is not None and spill is not None:
                    r = spill.add(r)
                elif r is not None:
                    part_size += r.data.nbytes
                found.append(r)
            if spill is not None:
                yield from _blocks([r for r in found if r is not None], limit)
            elif any(r is not None for r in found):
                pending.append(found)
                size += part_size
        finally:
            if spill is not None:
                found = []
                spill.close()
    if pending:
        yield _merge(days, pending)
