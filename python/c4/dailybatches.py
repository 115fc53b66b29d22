"""The days of a results store, one bounded batch of pairs at a time (for every stack).

Pair partitions are read in order, each day's file of a partition once (a few days ahead, in
threads), and whole partitions are gathered while their daily correlations stay within
``limit`` bytes. A partition larger than ``limit`` (a long stack of a large network) has its
days' correlations appended to one file in scratch as they are read, then comes back in
blocks of its pairs (sorted by name) of at most ``limit`` bytes each, read from that file
through a memory map; a block holds every day of its pairs, so every stack method (robust,
selective, tf-PWS included) is exact, with no running approximation. Held in memory: one
batch, the days being read ahead, and per spilled day its pair ids and window counts.
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
    """Partition ``part`` of each day, in day order, up to :data:`READ_AHEAD` in flight (one
    when some day was written with another partition count: it is read whole)."""
    ahead = READ_AHEAD if all(e.get("n_parts") == n_parts for e in entries) else 1
    with ThreadPoolExecutor(max_workers=ahead) as pool:
        queue: deque[Future[DailyResult | None]] = deque()
        todo = iter(zip(days, entries, strict=True))
        for day, e in todo:
            queue.append(pool.submit(read_partition, loc, day, e, part, n_parts))
            if len(queue) >= ahead:
                break
        while queue:
            result = queue.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                queue.append(pool.submit(read_partition, loc, nxt[0], nxt[1], part, n_parts))
            yield result


class _Spill:
    """The correlations of one partition's days appended to one file on scratch, read back
    through a memory map. In memory per day: only pair ids and counts (the pair table is kept
    once, with each pair's coordinates from the first day that has it)."""

    def __init__(self, scratch: Path | None) -> None:
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="c4-stack-spill-", dir=scratch))
        self.file = (self.dir / "data.f32").open("wb")
        self.ids: dict[str, int] = {}
        self.table: dict[str, list[Any]] = {}
        self.lags: np.ndarray | None = None
        self.days: list[tuple[dt.date, np.ndarray, np.ndarray, int, tuple[int, ...]]] = []
        self.size = 0  # floats written

    def add(self, r: DailyResult) -> None:
        data = np.ascontiguousarray(r.data, np.float32)
        self.file.write(data.tobytes())
        if self.lags is None:
            self.lags = r.lags
            self.table = {k: [] for k in r.pairs}
        ids = np.empty(len(data), np.int64)
        for row, name in enumerate(r.pairs["pair"]):
            i = self.ids.setdefault(str(name), len(self.ids))
            if i == len(self.table["pair"]):
                for k, column in self.table.items():
                    column.append(r.pairs[k][row] if k in r.pairs else None)
            ids[row] = i
        self.days.append((r.day, ids, np.asarray(r.counts), self.size, data.shape))
        self.size += data.size

    def blocks(self, limit: int) -> Iterator[list[DailyResult]]:
        """The days added in blocks of pairs (sorted by name) of at most ``limit`` bytes of
        correlations each (a single pair may exceed it)."""
        self.file.close()
        if not self.size or self.lags is None:
            return
        whole = np.memmap(self.dir / "data.f32", np.float32, "r", shape=(self.size,))
        table = {k: np.array(v) for k, v in self.table.items()
                 if all(x is not None for x in v)}
        order = np.argsort(table["pair"].astype(str), kind="stable")
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        size = np.zeros(len(order), np.int64)
        for _, ids, _, _, shape in self.days:
            size[rank[ids]] += int(np.prod(shape[1:])) * 4
        lo = 0
        while lo < len(order):
            hi = lo + max(1, int(np.searchsorted(np.cumsum(size[lo:]), limit, side="right")))
            block = []
            for day, ids, counts, offset, shape in self.days:
                rows = np.flatnonzero((rank[ids] >= lo) & (rank[ids] < hi))
                if len(rows):
                    data = whole[offset:offset + int(np.prod(shape))].reshape(shape)
                    block.append(DailyResult(day, np.asarray(data[rows]), counts[rows],
                                             self.lags, {k: v[ids[rows]]
                                                         for k, v in table.items()}))
            yield block
            lo = hi

    def close(self) -> None:
        self.file.close()
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
        found: list[DailyResult | None] = [None] * len(days)
        part_size = 0
        spill: _Spill | None = None
        try:
            for i, r in enumerate(_read_days(loc, days, entries, part, n_parts)):
                if r is None:
                    continue
                if spill is None:
                    if pending and size + part_size + r.data.nbytes > limit:
                        yield _merge(days, pending)
                        pending, size = [], 0
                    if part_size + r.data.nbytes > limit:
                        spill = _Spill(scratch)
                        for held in found:
                            if held is not None:
                                spill.add(held)
                        found = []
                if spill is not None:
                    spill.add(r)
                else:
                    found[i] = r
                    part_size += r.data.nbytes
            if spill is not None:
                yield from spill.blocks(limit)
            elif part_size or any(r is not None for r in found):
                pending.append(found)
                size += part_size
        finally:
            if spill is not None:
                spill.close()
    if pending:
        yield _merge(days, pending)
