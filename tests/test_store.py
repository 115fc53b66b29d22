"""Results store: manifest semantics, open_results over shards, daily products."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import c4
import numpy as np
import pytest
from c4 import pipeline
from c4.store import completed_days, completed_shards, open_daily

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
    np.testing.assert_array_equal(ds.linear.values[1], one.linear.values)
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

    monkeypatch.setattr(pipeline, "write_dataset", boom)
    with pytest.raises(OSError, match="disk full"):
        pipeline.run_shard(cfg, 0)
    assert completed_days(tmp_path / "out") == {dt.date(2024, 1, 1)}
    assert completed_shards(tmp_path / "out") == set()
    # a daily file without its manifest entry does not count either
    (tmp_path / "out" / "manifest" / "days" / "2024-01-01.json").unlink()
    assert (tmp_path / "out" / "daily" / "2024-01-01.npz").exists()
    assert completed_days(tmp_path / "out") == set()
