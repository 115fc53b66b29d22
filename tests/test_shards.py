"""Shards: month/day index -> days, Batch array index and the rerun index map."""

from __future__ import annotations

import datetime as dt

import pytest
from c4.config import Config, parse_config
from c4.shards import current_shard, n_shards, shard_days, shard_for_child, shard_label


def cfg(start: str, end: str, shard: str = "month") -> Config:
    return parse_config({"data": {"start": start, "end": end, "shard": shard}})


def test_month_shards_clip_to_the_date_range() -> None:
    c = cfg("2024-01-15", "2024-03-10")
    assert n_shards(c) == 3
    assert shard_days(c, 0)[0] == dt.date(2024, 1, 15) and len(shard_days(c, 0)) == 17
    assert len(shard_days(c, 1)) == 29  # leap February
    assert shard_days(c, 2)[-1] == dt.date(2024, 3, 10)
    assert shard_label(c, 1) == "2024-02"
    with pytest.raises(IndexError, match=r"outside 0\.\.2"):
        shard_days(c, 3)


def test_month_shards_cross_a_year_and_day_shards() -> None:
    c = cfg("2023-12-01", "2024-01-31")
    assert [shard_label(c, i) for i in range(n_shards(c))] == ["2023-12", "2024-01"]
    d = cfg("2024-02-28", "2024-03-01", "day")
    assert n_shards(d) == 3
    assert shard_days(d, 1) == [dt.date(2024, 2, 29)] and shard_label(d, 2) == "2024-03-01"


def test_index_sources_and_shard_map() -> None:
    assert shard_for_child(1, None) == 1
    assert shard_for_child(1, [4, 9]) == 9
    with pytest.raises(IndexError):
        shard_for_child(2, [4, 9])
    assert current_shard(3, {}) == 3
    assert current_shard(None, {"AWS_BATCH_JOB_ARRAY_INDEX": "5"}) == 5
    assert current_shard(2, {"AWS_BATCH_JOB_ARRAY_INDEX": "5"}) == 2  # --index wins
    env = {"AWS_BATCH_JOB_ARRAY_INDEX": "1", "C4_SHARD_MAP": "3, 7,11"}
    assert current_shard(None, env) == 7
    assert current_shard(0, {"C4_SHARD_MAP": "3,7"}) == 3
    with pytest.raises(ValueError, match="no shard index"):
        current_shard(None, {})
    with pytest.raises(ValueError, match="C4_SHARD_MAP"):
        current_shard(None, {"AWS_BATCH_JOB_ARRAY_INDEX": "0", "C4_SHARD_MAP": "a,b"})
