"""Shards: which days one Batch array child processes.

Shard ``i`` is the ``i``-th calendar month (``data.shard = "month"``, the default) or day
(``"day"``) counted from ``data.start``, clipped to ``[data.start, data.end]``. Array child ``c``
runs shard ``c`` unless the job carries an index map (``C4_SHARD_MAP="3,7"``: child ``c`` runs
shard ``map[c]``), which is how ``c4 submit --rerun`` re-runs only failed shards.
"""

from __future__ import annotations

import datetime as dt
import os

from c4.config import Config
from c4.failures import UserError

__all__ = ["current_shard", "n_shards", "shard_days", "shard_for_child", "shard_label"]

ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX"
SHARD_MAP_ENV = "C4_SHARD_MAP"


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def n_shards(config: Config) -> int:
    """Number of shards between ``data.start`` and ``data.end`` (both inclusive)."""
    d = config.data
    if d.shard == "day":
        return (d.end - d.start).days + 1
    return _month_index(d.end) - _month_index(d.start) + 1


def shard_days(config: Config, index: int) -> list[dt.date]:
    """The days of shard ``index`` (0-based), in order; ``IndexError`` outside the range."""
    total = n_shards(config)
    if not 0 <= index < total:
        raise IndexError(f"shard index {index} is outside 0..{total - 1} "
                         f"({config.data.start} to {config.data.end} by {config.data.shard})")
    d = config.data
    if d.shard == "day":
        return [d.start + dt.timedelta(days=index)]
    m = _month_index(d.start) + index
    first = dt.date(m // 12, m % 12 + 1, 1)
    m1 = m + 1
    after = dt.date(m1 // 12, m1 % 12 + 1, 1)
    first, last = max(first, d.start), min(after - dt.timedelta(days=1), d.end)
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


def shard_label(config: Config, index: int) -> str:
    """Human and file name of a shard: ``2024-02`` (month) or ``2024-02-03`` (day)."""
    first = shard_days(config, index)[0]
    return first.strftime("%Y-%m") if config.data.shard == "month" else first.isoformat()


def parse_shard_map(text: str) -> list[int]:
    """``"3, 7,11"`` -> ``[3, 7, 11]``; a clear ``ValueError`` otherwise."""
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{SHARD_MAP_ENV}={text!r}: expected comma-separated shard indexes"
                         ) from None
    if not out or min(out) < 0:
        raise ValueError(f"{SHARD_MAP_ENV}={text!r}: expected non-negative shard indexes")
    return out


def shard_for_child(child_index: int, shard_map: list[int] | None) -> int:
    """Shard run by array child ``child_index``: ``shard_map[child_index]`` or the index itself."""
    if shard_map is None:
        return child_index
    if not 0 <= child_index < len(shard_map):
        raise IndexError(f"array index {child_index} is outside the shard map {shard_map}")
    return shard_map[child_index]


class ShardIndexError(UserError, ValueError):
    """No usable shard index (a usage error: exit 2, before any work)."""


def current_shard(index_option: int | None, environ: dict[str, str] | None = None) -> int:
    """The shard this process runs.

    With ``C4_SHARD_MAP`` set: ``map[AWS_BATCH_JOB_ARRAY_INDEX]`` (or ``map[index_option]``
    outside Batch). Otherwise ``index_option`` (``--index``) if given, else
    ``AWS_BATCH_JOB_ARRAY_INDEX``; neither is an error.
    """
    env = os.environ if environ is None else environ
    raw_map = env.get(SHARD_MAP_ENV, "").strip()
    raw_child = env.get(ARRAY_INDEX_ENV, "").strip()
    if raw_map:
        child = int(raw_child) if raw_child else index_option
        if child is None:
            raise ShardIndexError(
                f"{SHARD_MAP_ENV} is set but neither {ARRAY_INDEX_ENV} nor --index")
        return shard_for_child(child, parse_shard_map(raw_map))
    if index_option is not None:
        return index_option
    if raw_child:
        try:
            return int(raw_child)
        except ValueError:
            raise ShardIndexError(f"{ARRAY_INDEX_ENV}={raw_child!r} is not an integer") from None
    raise ShardIndexError(f"no shard index: pass --index or set {ARRAY_INDEX_ENV}")
