"""output.daily: what each choice keeps, how it reads back, and that a run killed with SIGKILL
while its shard is being finished resumes to the same bytes as a run never interrupted."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import c4
import numpy as np
import pytest
from c4 import pipeline, stacking
from c4.config import parse_config
from c4.dailyproduct import DailyChoice
from c4.results import open_store
from c4.store import open_daily, output_location, read_daily, shard_entry

from tests.pipeline_helpers import product_files, small_archive, small_config, write_config

CHOICES = ("float32", "float16", "substack:2", "none")
DAYS = [dt.date(2024, 1, d) for d in (1, 2, 3)]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return small_archive(tmp_path_factory.mktemp("daily") / "archive", n_stations=3, days=3,
                         day_length_s=3600.0)


def _config(archive: dict[str, Any], out: Path, choice: str) -> Any:
    (out.parent / "scratch").mkdir(exist_ok=True)
    cfg = small_config(archive, out, out.parent / "scratch", stack_methods=["linear", "pws"],
                       threads=2)
    cfg.output.daily = choice
    return cfg


def test_choices_parse_and_name_the_allowed_values() -> None:
    assert str(DailyChoice.parse("substack:7")) == "substack:7"
    assert DailyChoice.parse("float16").bytes_per_value == 2
    for bad in ("float64", "substack:0", "substack", "sub:3"):
        with pytest.raises(ValueError, match="allowed: float32, float16, substack:N"):
            DailyChoice.parse(bad)
    with pytest.raises(ValueError, match=r"output\.daily"):
        parse_config({"output": {"daily": "half"}})


def test_what_each_choice_keeps(archive: dict[str, Any], tmp_path: Path) -> None:
    kept = {}
    for choice in CHOICES:
        cfg = _config(archive, tmp_path / choice.replace(":", "-"), choice)
        summary = pipeline.run_shard(cfg, 0)
        out = Path(cfg.output.output)
        assert summary["daily"] == choice
        assert not any((out / "daily" / d.isoformat()).exists() for d in DAYS)  # work files gone
        assert summary["daily_store"] == (None if choice == "none" else "daily/2024-01.zarr")
        if choice == "none":
            with pytest.raises(FileNotFoundError, match=r"output\.daily = none"):
                open_daily(str(out))
            with pytest.raises(FileNotFoundError, match="not kept"):
                stacking.stack_results(cfg, name="again")
            continue
        kept[choice] = open_daily(str(out))
        assert shard_entry(str(out), 0)["daily"] == choice  # type: ignore[index]
    f32, f16, sub = kept["float32"], kept["float16"], kept["substack:2"]
    assert f32.sizes == {"time": 3, "pair": 3, "lag": 801}
    assert sub.sizes["time"] == 2  # blocks Jan 1-2 and Jan 3
    np.testing.assert_array_equal(sub.time.values.astype("datetime64[D]"),
                                  np.array(["2024-01-01", "2024-01-03"], "datetime64[D]"))
    # float16: within half an ulp of float16 of each pair's peak
    peak = np.abs(f32.correlation).max(("time", "lag")).values
    err = np.abs(f16.correlation - f32.correlation).max(("time", "lag")).values
    assert (err <= peak * 2.0**-11 * 1.01).all() and (err > 0).any()
    # the last block holds one day: its sub-stack is that day's linear stack
    np.testing.assert_allclose(sub.correlation.isel(time=1).values,
                               f32.correlation.isel(time=2).values, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(sub.n_windows.isel(time=0).values,
                                  f32.n_windows.isel(time=[0, 1]).sum("time").values)
    # float32 days read back exactly as computed: c4 stack over them equals the shard stack
    cfg = _config(archive, tmp_path / "float32", "float32")
    cfg.output.scratch = str(tmp_path)
    again = c4.open_results(stacking.stack_results(cfg, name="again"))
    shard = c4.open_results(str(tmp_path / "float32"))
    np.testing.assert_array_equal(again.linear.sel(pair=shard.pair.values).values,
                                  shard.linear.values)
    r = read_daily(str(tmp_path / "float32"), DAYS[1])
    np.testing.assert_array_equal(r.data[:, 0], f32.correlation.sel(pair=r.pairs["pair"])
                                  .isel(time=1).values)


def _kill_when(cmd: list[str], marker: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"


@pytest.mark.parametrize("choice", CHOICES)
def test_sigkill_while_finishing_the_shard_resumes_bit_identical(
        archive: dict[str, Any], tmp_path: Path, choice: str) -> None:
    """Killed right after the shard's stack store appears (while the kept dailies are written,
    before the shard entry), then resumed: stacks and kept dailies equal a clean run's, byte for
    byte, and the work files are gone."""
    killed = _config(archive, tmp_path / "killed", choice)
    path = write_config(killed, tmp_path / "c4.toml")
    env = {**os.environ, "C4_NUM_THREADS": "2"}
    cmd = [sys.executable, "-c", "from c4.cli import main; main()", "correlate", "--config",
           str(path), "--index", "0"]
    _kill_when(cmd, tmp_path / "killed" / "shards" / "2024-01.zarr", env)
    assert shard_entry(str(tmp_path / "killed"), 0) is None
    assert (tmp_path / "killed" / "daily" / "2024-01-03").is_dir()  # work files kept

    pipeline.run_shard(killed, 0)
    clean = _config(archive, tmp_path / "clean", choice)
    pipeline.run_shard(clean, 0)
    for sub in ("shards/2024-01.zarr", "daily/2024-01.zarr"):
        a, b = tmp_path / "killed" / sub, tmp_path / "clean" / sub
        assert a.exists() == b.exists() == (choice != "none" or sub.startswith("shards"))
        if a.exists():
            files = product_files(a)
            assert files and files == product_files(b)
    assert not any((tmp_path / "killed" / "daily" / d.isoformat()).exists() for d in DAYS)


def test_work_files_left_after_the_shard_entry_are_removed_on_rerun(
        archive: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped between the shard entry and removing the work files (simulated) leaves
    them; the next run skips the shard and removes them."""
    cfg = _config(archive, tmp_path / "out", "float16")
    with monkeypatch.context() as m:
        m.setattr(pipeline, "drop_work_dailies", lambda *a: None)
        pipeline.run_shard(cfg, 0)
    assert (tmp_path / "out" / "daily" / "2024-01-02").is_dir()
    before = open_daily(str(tmp_path / "out"))  # work files still win while present
    pipeline.run_shard(cfg, 0)
    assert not (tmp_path / "out" / "daily" / "2024-01-02").exists()
    after = open_daily(str(tmp_path / "out"))
    peak = float(np.nanmax(np.abs(before.correlation.values)))
    np.testing.assert_allclose(after.correlation.values, before.correlation.values,
                               rtol=0, atol=peak * 2.0**-11)
    product = open_store(output_location(str(tmp_path / "out")), "daily/2024-01.zarr")
    assert product["correlation"].dtype == np.float16
