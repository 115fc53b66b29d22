"""Readers tolerate holes: a 12-month output store in which two months had no data (their shard
entries have no store, their days no partitions) opens with c4.open_results, plots, exports
and stacks; a station missing in one month leaves its pairs NaN there."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import c4
import numpy as np
import pytest
from c4 import stacking
from c4.cli import app
from c4.config import parse_config
from c4.store import (
    DailyResult,
    output_location,
    write_day_entry,
    write_day_part,
    write_shard_entry,
)
from typer.testing import CliRunner

EMPTY_MONTHS = (4, 9)
IDS = [f"XX.S{k}..HHZ" for k in range(4)]
LAT = np.array([34.0, 34.1, 34.2, 34.05])
LON = np.array([-117.0, -117.1, -116.9, -117.2])


def _daily(day: dt.date, stations: list[int], rng: np.random.Generator) -> DailyResult:
    i, j = np.triu_indices(len(stations), 1)
    a, b = np.array(stations)[i], np.array(stations)[j]
    lags = np.arange(-400, 401) / 10.0
    pairs = {
        "pair": np.array([f"{IDS[x]}_{IDS[y]}" for x, y in zip(a, b, strict=True)]),
        "source": np.array([IDS[x] for x in a]), "receiver": np.array([IDS[y] for y in b]),
        "component": np.full(len(a), "ZZ"),
        "distance_km": np.hypot(LAT[a] - LAT[b], LON[a] - LON[b]) * 100.0,
        "azimuth": np.full(len(a), 45.0), "backazimuth": np.full(len(a), 225.0),
        "source_latitude": LAT[a], "source_longitude": LON[a], "source_elevation": np.zeros(len(a)),
        "receiver_latitude": LAT[b], "receiver_longitude": LON[b],
        "receiver_elevation": np.zeros(len(a)),
    }
    data = rng.standard_normal((len(a), 1, len(lags))).astype(np.float32)
    return DailyResult(day, data, np.full((len(a), 1), 11, np.uint32), lags, pairs)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("holes")
    (root / "scratch").mkdir()
    cfg = parse_config({  # the days are written directly: no archive is read
        "data": {"source": str(root / "archive"), "start": "2024-01-01", "end": "2024-12-31"},
        "processing": {"sampling_rate": 10.0, "cc_len": 600.0, "step": 300.0, "freqmin": 0.1,
                       "freqmax": 1.0, "maxlag": 40.0, "stack_methods": ["linear", "pws"]},
        "output": {"output": str(root / "out"), "scratch": str(root / "scratch")}})
    loc = output_location(str(root / "out"))
    rng = np.random.default_rng(1)
    for month in range(1, 13):
        label = f"2024-{month:02d}"
        day = dt.date(2024, month, 1)
        entry = {"day": day.isoformat(), "shard": month - 1, "label": label,
                 "fingerprint": cfg.fingerprint(), "parts": [], "n_parts": 1,
                 "group_seconds": 86400.0}
        store = None
        if month not in EMPTY_MONTHS:
            stations = [0, 1, 2] if month == 6 else [0, 1, 2, 3]  # S3 out in June
            write_day_part(loc, _daily(day, stations, rng), 0, root / "scratch")
            entry["parts"] = [0]
        write_day_entry(loc, entry)
        if entry["parts"]:
            attrs = stacking.stack_attrs(cfg, [day], product="shard", shard=month - 1,
                                         label=label)
            store = f"shards/{label}.zarr"
            assert stacking.stack_to_store(loc, [entry], ["linear", "pws"], cfg, attrs, store,
                                           root / "scratch")
        write_shard_entry(loc, month - 1, {"shard": month - 1, "label": label, "store": store,
                                           "days": [day.isoformat()]})
    return root, cfg


def test_open_results_leaves_out_the_months_without_data(year: tuple[Path, object]) -> None:
    root, _ = year
    ds = c4.open_results(str(root / "out"))
    assert ds.sizes == {"time": 10, "pair": 6, "lag": 801}
    assert ds.attrs["shards_without_data"] == ["2024-04", "2024-09"]
    months = [str(t)[:7] for t in ds.time.values]
    assert "2024-04" not in months and "2024-09" not in months and len(set(months)) == 10
    june = ds.linear.sel(time="2024-06-01")
    with_s3 = np.char.find(ds.pair.values.astype(str), "S3.") >= 0
    assert np.isnan(june.values[with_s3]).all() and np.isfinite(june.values[~with_s3]).all()
    assert np.isnan(ds.n_days.sel(time="2024-06-01").values[with_s3]).all()
    one = c4.open_results(str(root / "out" / "shards" / "2024-05.zarr"))
    np.testing.assert_array_equal(ds.linear.sel(time="2024-05-01").sel(pair=one.pair.values),
                                  one.linear.values)


def test_plot_export_and_stack_over_the_holes(year: tuple[Path, object], tmp_path: Path) -> None:
    root, cfg = year
    out = str(root / "out")
    runner = CliRunner()
    for args in (["plot", "moveout", out, "-o", str(tmp_path / "m.png"), "--dpi", "30"],
                 ["plot", "pair", out, "XX.S0_XX.S1", "-c", "ZZ", "-o", str(tmp_path / "p.png"),
                  "--dpi", "30"],
                 ["export", out, "--out", str(tmp_path / "sac"), "-m", "linear"]):
        res = runner.invoke(app, args, catch_exceptions=False)
        assert res.exit_code == 0, (args, res.output)
    for name in ("m.png", "p.png"):
        assert (tmp_path / name).stat().st_size > 1000
    steps = sorted(p.name for p in (tmp_path / "sac" / "linear").iterdir())
    assert len(steps) == 10 and "2024-04-01" not in steps
    assert len(list((tmp_path / "sac" / "linear" / "2024-06-01").glob("*.SAC"))) == 3
    assert len(list((tmp_path / "sac" / "linear" / "2024-05-01").glob("*.SAC"))) == 6

    c = cfg.model_copy(deep=True)  # type: ignore[attr-defined]
    c.output.scratch = str(tmp_path)
    url = stacking.stack_results(c, name="year")
    stacked = c4.open_results(url)
    n_days = dict(zip(stacked.pair.values, stacked.n_days.values, strict=True))
    assert n_days["XX.S0..HHZ_XX.S1..HHZ"] == 10 and n_days["XX.S0..HHZ_XX.S3..HHZ"] == 9
