"""`c4 stack` stacks days only with the settings they were made with: days of another
fingerprint are refused with the differing keys named (or, with --days-settings, stacked with
their own config), days of two settings are never stacked together, and a product's
attributes describe what was stacked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import c4
import pytest
import tomllib
from c4 import pipeline
from c4.cli import app
from c4.config import parse_config
from c4.stacking import stack_results
from c4.store import day_entry, product_attrs
from typer.testing import CliRunner

from tests.pipeline_helpers import arrays_equal, small_archive, small_config, write_config

DAY1, DAY2 = "2024-01-01", "2024-01-02"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Day 1 correlated with freqmax 1.0 Hz, day 2 with 0.8 Hz."""
    root = tmp_path_factory.mktemp("provenance")
    arch = small_archive(root / "archive", n_stations=3, day_length_s=3600.0)
    (root / "scratch").mkdir()
    cfg = small_config(arch, root / "out", root / "scratch", data={"shard": "day"},
                       stack_methods=["linear", "pws"])
    other = cfg.model_copy(deep=True)
    other.processing.freqmax = 0.8
    pipeline.run_shard(cfg, 0)
    pipeline.run_shard(other, 1)
    return {"root": root, "cfg": cfg, "other": other,
            "path": write_config(cfg, root / "c4.toml")}


def _stack(store: dict[str, Any], *args: str) -> Any:
    return CliRunner().invoke(app, ["stack", "--config", str(store["path"]), *args])


def test_days_of_two_settings_are_never_stacked_together(store: dict[str, Any]) -> None:
    for args in ([], ["--moving", "2d"], ["--days-settings"]):
        res = _stack(store, "--name", "mixed", *args)
        assert res.exit_code == 1, res.output
        text = " ".join(res.output.split())
        assert "made with 2 different settings" in text, text
        assert f"{DAY1}: fingerprint {store['cfg'].fingerprint()}" in text
        assert "processing.freqmax (1.0, 0.8)" in text
        assert "never stacked together" in text
    assert not (store["root"] / "out" / "stacks" / "mixed.zarr").exists()
    assert not (store["root"] / "out" / "stacks" / "moving_2d_1d.zarr").exists()


def test_days_of_other_settings_are_refused_naming_the_keys(store: dict[str, Any]) -> None:
    res = _stack(store, "--name", "refused", "--start", DAY2)
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert f"the days ({DAY2}) were made with other settings than this config" in text
    assert "keys differing (days, config): processing.freqmax (0.8, 1.0)" in text
    assert "--days-settings" in text
    assert len(res.output.strip().splitlines()) <= 4  # one message (wrapped), no traceback
    assert not (store["root"] / "out" / "stacks" / "refused.zarr").exists()


def test_attributes_describe_the_days_stacked(store: dict[str, Any]) -> None:
    cfg, other = store["cfg"], store["other"]
    res = _stack(store, "--name", "first", "--end", DAY1)
    assert res.exit_code == 0, res.output
    url = str(store["root"] / "out" / "stacks" / "first.zarr")
    attrs = product_attrs(url)
    assert attrs is not None
    assert attrs["fingerprint"] == cfg.fingerprint() and attrs["fingerprints"] == [
        cfg.fingerprint()]
    assert attrs["days"] == [DAY1]
    recorded = day_entry(store["root"] / "out", dt.date.fromisoformat(DAY1))
    assert recorded is not None and attrs["days_config"] == recorded["config"]
    assert parse_config(tomllib.loads(attrs["config"])).fingerprint() == cfg.fingerprint()

    # the days' own settings: stacked as with their config, and described by it
    res = _stack(store, "--name", "own", "--start", DAY2, "--days-settings")
    assert res.exit_code == 0, res.output
    url = str(store["root"] / "out" / "stacks" / "own.zarr")
    ds = c4.open_results(url).load()
    assert ds.attrs["fingerprint"] == other.fingerprint()
    assert ds.attrs["fingerprints"] == [other.fingerprint()]
    used = parse_config(tomllib.loads(ds.attrs["config"]))
    assert used.processing.freqmax == 0.8 and used.fingerprint() == other.fingerprint()
    assert used.output.output == cfg.output.output  # the user's output section
    assert parse_config(tomllib.loads(ds.attrs["days_config"])).processing.freqmax == 0.8
    assert ds.attrs["days"] == [DAY2]
    direct = c4.open_results(stack_results(other, name="direct",
                                           start=dt.date.fromisoformat(DAY2))).load()
    assert arrays_equal(ds, direct)


def test_shard_stacks_describe_their_days(store: dict[str, Any]) -> None:
    for label, made in ((DAY1, store["cfg"]), (DAY2, store["other"])):
        attrs = product_attrs(str(Path(store["root"]) / "out" / "shards" / f"{label}.zarr"))
        assert attrs is not None
        assert attrs["fingerprint"] == made.fingerprint()
        assert attrs["fingerprints"] == [made.fingerprint()]
        assert parse_config(tomllib.loads(attrs["days_config"])).fingerprint() == (
            made.fingerprint())
