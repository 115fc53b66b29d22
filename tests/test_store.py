"""Results store: manifest semantics, open_results over shards, daily products."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import c4
import numpy as np
import pytest
from c4 import pipeline, stacking
from c4.products import resolve_product
from c4.store import (
    completed_days,
    completed_shards,
    day_entry,
    open_daily,
    output_location,
    partition_of,
)

from tests.pipeline_helpers import small_archive, small_config


@pytest.fixture(scope="module")
def day_shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("store")
    arch = small_archive(root / "archive", n_stations=3, day_length_s=3600.0)
    (root / "scratch").mkdir()
    cfg = small_config(arch, root / "out", root / "scratch", data={"shard": "day"},
                       stack_methods=["linear"])
    for index in (0, 1):
        pipeline.run_shard(cfg, index)
    return root, cfg


def test_open_results_over_several_shards_has_a_time_dim(day_shards: tuple[Path, object]
                                                         ) -> None:
    root, _ = day_shards
    assert completed_shards(root / "out") == {0, 1}
    assert completed_days(root / "out") == {dt.date(2024, 1, 1), dt.date(2024, 1, 2)}
    ds = c4.open_results(str(root / "out"))
    assert ds.linear.dims == ("time", "pair", "lag")
    assert ds.sizes == {"time": 2, "pair": 3, "lag": 801}
    assert ds.lag.attrs["units"] == "s" and "source" in ds.lag.attrs["sign_convention"]
    one = c4.open_results(str(root / "out" / "shards" / "2024-01-02.zarr"))
    # a store lists pairs partition by partition; select by label, not position
    np.testing.assert_array_equal(ds.linear.isel(time=1).sel(pair=one.pair.values).values,
                                  one.linear.values)
    assert set(ds.coords) >= {"pair", "lag", "source", "receiver", "component", "distance_km",
                              "azimuth", "backazimuth", "time"}


def test_daily_products(day_shards: tuple[Path, object]) -> None:
    root, _ = day_shards
    daily = open_daily(str(root / "out"))
    assert daily.correlation.dims == ("time", "pair", "lag")
    assert daily.sizes["time"] == 2
    assert (daily.n_windows.values == 11).all()  # (3600 - 600) / 300 + 1 windows


def test_a_failed_shard_write_is_never_marked_complete(
        day_shards: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, cfg = day_shards
    cfg = cfg.model_copy(deep=True)
    cfg.output.output = str(tmp_path / "out")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(stacking, "write_datasets", boom)
    with pytest.raises(OSError, match="disk full"):
        pipeline.run_shard(cfg, 0)
    assert completed_days(tmp_path / "out") == {dt.date(2024, 1, 1)}
    assert completed_shards(tmp_path / "out") == set()
    # a daily file without its manifest entry does not count either
    (tmp_path / "out" / "manifest" / "days" / "2024-01-01.json").unlink()
    assert list((tmp_path / "out" / "daily" / "2024-01-01").glob("part-*.npz"))
    assert completed_days(tmp_path / "out") == set()


@pytest.mark.parametrize("batch_mb", [1e-9, 1024.0])
def test_partitioning_changes_the_layout_not_the_numbers(
        day_shards: tuple[Path, object], tmp_path: Path, batch_mb: float) -> None:
    """Pairs split over many partitions (one daily file each, stacked one pair per batch
    or all in one batch) give the same stacks, bit for bit, as one partition holding every
    pair."""
    _, cfg = day_shards
    results = {}
    for n_parts in (1, 5):
        c = cfg.model_copy(deep=True)
        c.output.output = str(tmp_path / f"out{n_parts}")
        c.output.pair_partitions = n_parts
        c.output.stack_batch_mb = batch_mb
        pipeline.run_shard(c, 0)
        parts = day_entry(c.output.output, dt.date(2024, 1, 1))["parts"]  # type: ignore[index]
        assert len(parts) == (1 if n_parts == 1 else len(set(
            partition_of(c4.open_results(c.output.output).pair.values, n_parts))))
        # the work files are gone once the shard is stacked; the kept days are one store
        assert not (tmp_path / f"out{n_parts}" / "daily" / "2024-01-01").exists()
        assert resolve_product(output_location(c.output.output), "daily/2024-01-01.zarr")
        results[n_parts] = c4.open_results(c.output.output)
    one, many = results[1], results[5]
    assert len(day_entry(str(tmp_path / "out5"), dt.date(2024, 1, 1))["parts"]) > 1  # type: ignore[index]
    np.testing.assert_array_equal(many.linear.sel(pair=one.pair.values).values,
                                  one.linear.values)
    np.testing.assert_array_equal(many.distance_km.sel(pair=one.pair.values).values,
                                  one.distance_km.values)


def test_stacking_days_written_with_another_partition_count(
        day_shards: tuple[Path, object], tmp_path: Path) -> None:
    """`c4 stack` with a changed pair_partitions re-partitions the old days on reading."""
    root, cfg = day_shards
    c = cfg.model_copy(deep=True)
    c.output.output = str(root / "out")
    c.output.scratch = str(tmp_path)
    c.output.pair_partitions = 3
    url = stacking.stack_results(c, name="repartitioned")
    again = c4.open_results(url)
    both = c4.open_results(str(root / "out"))
    assert sorted(again.pair.values) == sorted(both.pair.values)
    assert again.n_days.values.tolist() == [2] * again.sizes["pair"]


def test_a_rerun_shard_replaces_its_store_atomically(day_shards: tuple[Path, object],
                                                     tmp_path: Path) -> None:
    """A shard's store is a product: re-stacked, its marker switches to a new version and the
    old version is deleted; the numbers stay the same."""
    _, cfg = day_shards
    c = cfg.model_copy(deep=True)
    c.output.output = str(tmp_path / "out")
    pipeline.run_shard(c, 0)
    loc = output_location(c.output.output)
    first = resolve_product(loc, "shards/2024-01-01.zarr")
    before = c4.open_results(c.output.output).load()
    (tmp_path / "out" / "manifest" / "shards" / "0000.json").unlink()  # re-run its stack
    pipeline.run_shard(c, 0)
    second = resolve_product(loc, "shards/2024-01-01.zarr")
    assert first is not None and second is not None and first != second
    assert loc.list_dirs("shards/2024-01-01.zarr") == [second.rsplit("/", 1)[1]]
    assert (tmp_path / "out" / second / "zarr.json").is_file()
    np.testing.assert_array_equal(c4.open_results(c.output.output).linear.values,
                                  before.linear.values)
