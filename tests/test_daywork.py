"""The day's pairs and their partitioned correlation (c4.daywork), and pair partitions."""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import c4
import numpy as np
import pytest
from c4 import kernels, pipeline, stacking
from c4.config import parse_config
from c4.daywork import correlate_partitions, make_pairs
from c4.pipeline import Timings
from c4.sources import ChannelId
from c4.stations import StationInfo, pair_geometry
from c4.store import (
    DailyResult,
    channel_blocks,
    day_entry,
    output_location,
    partition_of,
    read_daily,
    write_day_entry,
    write_day_part,
)
from pipeline_helpers import small_archive, small_config

DAY = dt.date(2024, 3, 1)


def reference_pairs(channels: list[ChannelId], coords: dict[str, StationInfo], p: Any,
                    orientations: dict[str, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The pair list as one loop over channel pairs (the former implementation)."""
    idx, geo = [], defaultdict(list)
    for i, a in enumerate(channels):
        for j in range(i, len(channels)):
            b = channels[j]
            if (i == j and not p.autocorr) or (a.component != b.component
                                                and not p.cross_components):
                continue
            sa, sb = coords[a.station_id], coords[b.station_id]
            dist, az, baz = pair_geometry(sa, sb)
            if dist > p.max_distance_km:
                continue
            idx.append((i, j))
            for name, value in (
                ("pair", f"{a.id}_{b.id}"), ("source", a.id), ("receiver", b.id),
                ("component", a.component + b.component), ("distance_km", dist),
                ("azimuth", az), ("backazimuth", baz),
                ("source_latitude", sa.latitude), ("source_longitude", sa.longitude),
                ("source_elevation", sa.elevation), ("receiver_latitude", sb.latitude),
                ("receiver_longitude", sb.longitude), ("receiver_elevation", sb.elevation),
                ("source_orientation", orientations.get(a.id, np.nan)),
                ("receiver_orientation", orientations.get(b.id, np.nan)),
            ):
                geo[name].append(value)
    return np.array(idx, np.int64).reshape(-1, 2), {k: np.array(v) for k, v in geo.items()}


def network() -> tuple[list[ChannelId], dict[str, StationInfo], dict[str, float]]:
    coords = {"XX.A": StationInfo(34.0, -118.0, 10.0), "XX.B": StationInfo(34.5, -118.2, 5.0),
              "XX.CC": StationInfo(34.0, -118.0, 0.0), "YY.D": StationInfo(36.0, -117.0, 1.5)}
    channels = sorted(ChannelId(*sid.split("."), loc, cha) for sid in coords
                      for loc, cha in (("", "HHZ"), ("", "HHN"), ("00", "HHE"))
                      if not (sid == "YY.D" and cha == "HHE"))
    orientations = {c.id: 90.0 if c.channel.endswith("E") else 0.0 for c in channels
                    if c.channel[-1] in "NE" and c.station_id != "XX.B"}
    return channels, coords, orientations


@pytest.mark.parametrize("settings", [
    {}, {"autocorr": True}, {"cross_components": False}, {"max_distance_km": 60.0},
    {"autocorr": True, "cross_components": False, "max_distance_km": 0.0},
])
def test_pairs_are_the_former_loops_pairs(settings: dict[str, Any]) -> None:
    channels, coords, orientations = network()
    cfg = parse_config({"processing": settings})
    want_pairs, want = reference_pairs(channels, coords, cfg.processing, orientations)
    cache: dict = {}
    pairs, table = make_pairs(channels, coords, cfg, orientations, cache)
    np.testing.assert_array_equal(pairs, want_pairs)
    assert pairs.dtype == np.int64 and len(pairs) > 0
    assert sorted(table) == sorted(want)
    for k, v in want.items():
        assert table[k].dtype == v.dtype, k
        np.testing.assert_array_equal(table[k], v, err_msg=k)
    # the cache of station-pair geodesics gives the same table on the next day
    again_pairs, again = make_pairs(channels, coords, cfg, orientations, cache)
    assert cache and all(np.array_equal(again[k], table[k], equal_nan=table[k].dtype.kind == "f")
                         for k in table)
    np.testing.assert_array_equal(again_pairs, pairs)


def test_no_pairs_gives_an_empty_list() -> None:
    channels, coords, _ = network()
    cfg = parse_config({"processing": {"max_distance_km": 0.0, "cross_components": False}})
    pairs, table = make_pairs(channels[:1], coords, cfg)
    assert pairs.shape == (0, 2) and table == {}


def test_a_pairs_partition_depends_on_its_two_channels_only() -> None:
    ids = [f"CI.S{k:03d}.{loc}.HH{c}" for k in range(60) for loc in ("", "10") for c in "ZNE"]
    names = np.array([f"{a}_{b}" for i, a in enumerate(ids) for b in ids[i + 1:]])
    part = partition_of(names, 64)
    assert part.min() >= 0 and part.max() < 64
    assert len(set(part.tolist())) == 64  # 8 x 8 blocks, all in use
    blocks = {c: int(b) for c, b in zip(ids, channel_blocks(ids, 8), strict=True)}
    assert blocks["CI.S000..HHZ"] == zlib.crc32(b"CI.S000..HHZ") % 8
    want = [blocks[n.split("_")[0]] * 8 + blocks[n.split("_")[1]] for n in names]
    np.testing.assert_array_equal(part, want)
    # another day with a third of the channels gone: the others' pairs keep their partition
    kept = names[[i for i, n in enumerate(names) if "S01" not in n]]
    np.testing.assert_array_equal(partition_of(kept, 64), part[np.isin(names, kept)])
    # a count that is not a square uses floor(sqrt) blocks per side; one partition holds all
    assert partition_of(names, 70).max() < 64
    assert set(partition_of(names, 1).tolist()) == {0}
    assert len(partition_of([], 5)) == 0


def _spectra(n: int, invalid_channel: int) -> kernels.Spectra:
    rng = np.random.default_rng(3)
    data = (rng.standard_normal((n, 6, 40)) + 1j * rng.standard_normal((n, 6, 40))
            ).astype(np.complex64)
    valid = np.ones((n, 6), bool)
    valid[invalid_channel] = False
    data[invalid_channel] = 0
    return kernels.Spectra.from_complex(data, valid, offset=1, nfft=128, fs=1.0)


@pytest.mark.parametrize("pair_block", [7, 60, 10000])  # partitions split, grouped, one call
def test_partitions_hold_every_pair_once_with_the_one_call_bits(pair_block: int) -> None:
    n = 23
    spec = _spectra(n, invalid_channel=4)
    ids = [f"XX.S{k:02d}..HHZ" for k in range(n)]
    ii, jj = np.triu_indices(n, k=0)
    pairs = np.stack([ii, jj], axis=1).astype(np.int64)
    names = np.array([f"{ids[i]}_{ids[j]}" for i, j in pairs])
    table = {"pair": names, "distance_km": np.arange(len(pairs), dtype=np.float64)}
    cfg = parse_config({"processing": {"sampling_rate": 1.0, "freqmin": 0.1, "freqmax": 0.4,
                                       "maxlag": 20.0, "pair_block": pair_block}})
    whole = kernels.correlate(spec, pairs, 20.0)
    got: list[tuple[int, DailyResult]] = []
    t = Timings()
    done = correlate_partitions(DAY, spec, ids, pairs, table, 9, cfg.processing,
                                lambda result, part: got.append((part, result)), t)
    parts = [part for part, _ in got]
    assert parts == done.parts == sorted(set(partition_of(names, 9).tolist())) and len(parts) > 1
    seen = np.concatenate([r.pairs["pair"] for _, r in got])
    dropped = (pairs == 4).any(axis=1)
    assert done.n_dropped == int(dropped.sum()) and done.n_pairs == len(seen)
    assert sorted(seen) == sorted(names[~dropped])
    index = {name: q for q, name in enumerate(names)}
    for part, r in got:
        assert list(r.pairs["pair"]) == sorted(r.pairs["pair"])
        assert set(partition_of(r.pairs["pair"], 9).tolist()) == {part}
        rows = [index[name] for name in r.pairs["pair"]]
        np.testing.assert_array_equal(r.data, whole.data[rows])
        np.testing.assert_array_equal(r.counts, whole.counts[rows])
        np.testing.assert_array_equal(r.pairs["distance_km"], rows)
        assert r.day == DAY and r.data.flags.c_contiguous
    assert t.seconds["correlate"] > 0 and "write" in t.seconds


def test_a_failing_write_fails_the_day() -> None:
    spec = _spectra(12, invalid_channel=0)
    ids = [f"XX.S{k:02d}..HHZ" for k in range(12)]
    ii, jj = np.triu_indices(12, k=1)
    pairs = np.stack([ii, jj], axis=1).astype(np.int64)
    table = {"pair": np.array([f"{ids[i]}_{ids[j]}" for i, j in pairs])}
    cfg = parse_config({"processing": {"sampling_rate": 1.0, "freqmin": 0.1, "freqmax": 0.4,
                                       "maxlag": 20.0}})

    parts = sorted(set(partition_of(table["pair"], 4).tolist()))
    assert len(parts) > 2
    for failing in (parts[0], parts[1], parts[-1]):  # first, middle and last of the one call
        written: list[int] = []

        def boom(result: DailyResult, part: int, failing: int = failing,
                 written: list[int] = written) -> None:
            if part == failing:
                raise OSError("disk full")
            written.append(part)

        with pytest.raises(OSError, match="disk full"):
            correlate_partitions(DAY, spec, ids, pairs, table, 4, cfg.processing, boom,
                                 Timings())
        assert failing not in written


@pytest.mark.parametrize(("call", "message"), [
    (lambda bad: kernels.whiten(bad.astype(np.complex64), 1.0, 16, 0.1, 0.4), "spectra"),
    (lambda bad: kernels.stack(bad[None]), "x"),
    (lambda bad: kernels.time_normalize(bad, "one_bit"), "x"),
])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_by_name(call: Any, message: str, value: float) -> None:
    x = np.ones((3, 9), np.float32)
    x[2, 8] = value
    with pytest.raises(ValueError, match=f"{message}: contains NaN or Inf"):
        call(x)
    x[2, 8] = np.finfo(np.float32).max
    call(x)


def test_days_of_the_former_pair_hash_partitions_are_repartitioned(tmp_path: Path) -> None:
    """A store whose older days hold partitions by a CRC-32 of the pair name (an earlier c4,
    no ``partitioning`` in the day entry) stacks each pair once, with all its days."""
    arch = small_archive(tmp_path / "archive", n_stations=5, day_length_s=3600.0)
    (tmp_path / "scratch").mkdir()
    cfg = small_config(arch, tmp_path / "out", tmp_path / "scratch", data={"shard": "day"},
                       stack_methods=["linear"])
    cfg.output.pair_partitions = 4
    for index in (0, 1):
        pipeline.run_shard(cfg, index)
    loc = output_location(cfg.output.output)
    old_day = dt.date.fromisoformat(arch["start"].isoformat())
    whole = read_daily(loc, old_day)
    entry = day_entry(loc, old_day)
    assert entry is not None and entry.pop("partitioning") == "channel-blocks"
    for f in (tmp_path / "out" / "daily" / old_day.isoformat()).glob("part-*.npz"):
        f.unlink()
    legacy = np.array([zlib.crc32(str(n).encode()) % 4 for n in whole.pairs["pair"]])
    for part in sorted(set(legacy.tolist())):
        write_day_part(loc, whole.select(legacy == part), part, tmp_path / "scratch")
    entry["parts"] = sorted(set(legacy.tolist()))
    write_day_entry(loc, entry)
    assert (legacy != partition_of(whole.pairs["pair"], 4)).any()
    batches = list(stacking.daily_batches(loc, stacking.data_entries(loc), 4, limit=1))
    assert len(batches) > 1  # one partition per batch: every pair in one of them, both days
    names = [n for batch in batches for n in set().union(*(r.pairs["pair"] for r in batch))]
    assert sorted(names) == sorted(whole.pairs["pair"])
    for batch in batches:
        assert len(batch) == 2 and {str(n) for n in batch[0].pairs["pair"]} == {
            str(n) for n in batch[1].pairs["pair"]}
    ds = c4.open_results(stacking.stack_results(cfg, name="both"))
    assert sorted(ds.pair.values) == sorted(whole.pairs["pair"]) == sorted(set(ds.pair.values))
    assert ds.n_days.values.tolist() == [2] * ds.sizes["pair"]
    new = read_daily(loc, old_day + dt.timedelta(days=1))
    for name in ds.pair.values:
        days = [r.data[list(r.pairs["pair"]).index(name), 0] for r in (whole, new)]
        np.testing.assert_allclose(ds.linear.sel(pair=name).values, np.mean(days, axis=0),
                                   rtol=1e-5, atol=1e-7)


def test_partitions_are_written_in_name_order_whatever_the_channel_order() -> None:
    n = 10
    spec = _spectra(n, invalid_channel=9)
    ids = [f"XX.S{k:02d}..HHZ" for k in range(n)][::-1]  # records in reverse name order
    ii, jj = np.triu_indices(n, k=1)
    pairs = np.stack([ii, jj], axis=1).astype(np.int64)
    names = np.array([f"{ids[i]}_{ids[j]}" for i, j in pairs])
    cfg = parse_config({"processing": {"sampling_rate": 1.0, "freqmin": 0.1, "freqmax": 0.4,
                                       "maxlag": 20.0}})
    whole = kernels.correlate(spec, pairs, 20.0)
    got: list[DailyResult] = []
    correlate_partitions(DAY, spec, ids, pairs, {"pair": names}, 4, cfg.processing,
                         lambda result, part: got.append(result), Timings())
    index = {name: q for q, name in enumerate(names)}
    for r in got:
        assert list(r.pairs["pair"]) == sorted(r.pairs["pair"])
        np.testing.assert_array_equal(r.data, whole.data[[index[m] for m in r.pairs["pair"]]])
    assert sum(len(r.pairs["pair"]) for r in got) == len(names) - (n - 1)
