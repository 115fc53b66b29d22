"""`c4 correlate` end to end on a local SCEDC archive: physics, bad inputs, stack, export."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import c4
import numpy as np
import pytest
from c4.sources import ChannelId, scedc_key
from obspy import read

from tests.pipeline_helpers import (
    assert_physics,
    day,
    run_c4,
    small_archive,
    small_config,
    write_config,
)


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """5 stations, 2 days; S05's first day is corrupt, S02 has a 20-minute gap on day 2, S04
    has no StationXML. Runs `c4 correlate` once."""
    root = tmp_path_factory.mktemp("bad")
    arch = small_archive(root / "archive", n_stations=5)
    d1, d2 = day("2024-01-01"), day("2024-01-02")
    corrupt = root / "archive" / scedc_key(ChannelId("SY", "S05", "", "HHZ"), d1)
    corrupt.write_bytes(b"this is not miniSEED" * 50)
    gappy = root / "archive" / scedc_key(ChannelId("SY", "S02", "", "HHZ"), d2)
    st = read(str(gappy))
    t0 = st[0].stats.starttime
    st = st.slice(t0, t0 + 3000) + st.slice(t0 + 4200, t0 + 7200)
    st.write(str(gappy), format="MSEED", encoding="FLOAT32")
    (Path(arch["stations"]) / "SY" / "SY_S04.xml").unlink()
    (root / "scratch").mkdir()
    cfg = small_config(arch, root / "out", root / "scratch")
    path = write_config(cfg, root / "c4.toml")
    out = run_c4("correlate", "--config", str(path), "--index", "0")
    return {"root": root, "arch": arch, "cfg": cfg, "path": path, "out": out,
            "corrupt": corrupt}


def test_bad_inputs_are_logged_and_the_shard_completes(bad_run: dict[str, Any]) -> None:
    out = bad_run["out"]
    assert out.returncode == 0, out.stderr
    assert f"skipping corrupt file {bad_run['corrupt']}:" in out.stderr
    assert "station SY.S04 has no metadata, skipping it" in out.stderr
    assert "SY.S02..HHZ: gaps in 16.7% of the day, zero-filled and masked" in out.stderr
    ds = c4.open_results(str(bad_run["root"] / "out"))
    stations = {s.split(".")[1] for s in np.concatenate([ds.source.values, ds.receiver.values])}
    assert stations == {"S01", "S02", "S03", "S05"}
    n_days = dict(zip(ds.pair.values, ds.n_days.values, strict=True))
    assert n_days["SY.S01..HHZ_SY.S05..HHZ"] == 1  # corrupt day skipped
    assert n_days["SY.S01..HHZ_SY.S02..HHZ"] == 2  # gappy day kept
    assert ds.attrs["c4_version"] == c4.__version__
    assert "[processing]" in ds.attrs["config"]
    assert set(ds.data_vars) >= {"linear", "pws", "robust", "n_days", "n_windows"}
    assert ds.component.values.tolist() == ["ZZ"] * ds.sizes["pair"]
    for method in ("linear", "pws", "robust"):
        assert_physics(ds, bad_run["cfg"], method)


def test_stack_and_export(bad_run: dict[str, Any], tmp_path: Path) -> None:
    res = run_c4("stack", "--config", str(bad_run["path"]), "--name", "year", "-m", "nroot",
                 "-m", "linear")
    assert res.returncode == 0, res.stderr
    url = res.stdout.strip().splitlines()[-1]
    assert url.endswith("stacks/year.zarr")
    ds = c4.open_results(url)
    assert set(ds.data_vars) == {"nroot", "linear", "n_days", "n_windows"}
    shard = c4.open_results(str(bad_run["root"] / "out"))
    np.testing.assert_array_equal(ds.linear.values, shard.linear.values)
    res = run_c4("export", url, "--out", str(tmp_path / "sac"), "-m", "linear")
    assert res.returncode == 0, res.stderr
    files = sorted((tmp_path / "sac" / "linear").glob("*.SAC"))
    assert len(files) == ds.sizes["pair"]
    tr = read(str(tmp_path / "sac" / "linear" / "SY.S01..HHZ_SY.S02..HHZ.SAC"))[0]
    i = list(ds.pair.values).index("SY.S01..HHZ_SY.S02..HHZ")
    assert tr.stats.sac.dist == pytest.approx(float(ds.distance_km[i]), rel=1e-5)
    assert tr.stats.sac.az == pytest.approx(float(ds.azimuth[i]), abs=1e-3)
    assert tr.stats.sac.b == pytest.approx(-bad_run["cfg"].processing.maxlag)
    assert tr.stats.station == "S02" and tr.stats.sac.kevnm == "SY.S01..HHZ"
    np.testing.assert_allclose(tr.data, ds.linear.values[i], rtol=1e-6)


def test_missing_scratch_is_a_clear_error(bad_run: dict[str, Any], tmp_path: Path) -> None:
    res = run_c4("correlate", "--config", str(bad_run["path"]), "--index", "0",
                 "--output", str(tmp_path / "out"), "--scratch", str(tmp_path / "nope"))
    assert res.returncode == 2  # configuration, found before any work
    assert f"output.scratch: {tmp_path / 'nope'} does not exist" in res.stderr
    assert "Traceback" not in res.stderr


def test_full_scratch_is_a_clear_error(bad_run: dict[str, Any], tmp_path: Path) -> None:
    res = run_c4("correlate", "--config", str(bad_run["path"]), "--index", "0",
                 "--output", str(tmp_path / "out"), "--set", "output.min_free_gb=1e9")
    assert res.returncode == 2
    assert "less than output.min_free_gb" in res.stderr
    assert not (tmp_path / "out" / "days").exists()  # stopped before the first day


def test_rerun_of_a_complete_shard_skips_it(bad_run: dict[str, Any]) -> None:
    res = run_c4("correlate", "--config", str(bad_run["path"]),
                 env={"AWS_BATCH_JOB_ARRAY_INDEX": "0"})
    assert res.returncode == 0, res.stderr
    assert "shard 2024-01 (0) already complete, skipping" in res.stderr


def test_sds_layout_with_csv_metadata(tmp_path: Path) -> None:
    arch = small_archive(tmp_path / "archive", layout="sds", metadata="csv", days=1,
                         n_stations=3)
    (tmp_path / "scratch").mkdir()
    cfg = small_config(arch, tmp_path / "out", tmp_path / "scratch",
                       data={"layout": "sds"}, autocorr=True)
    from c4.pipeline import run_shard

    summary = run_shard(cfg, 0)
    ds = c4.open_results(str(tmp_path / "out" / summary["store"]))
    assert ds.sizes["pair"] == 6  # 3 cross + 3 auto
    auto = ds.sel(pair="SY.S01..HHZ_SY.S01..HHZ")
    assert float(auto.lag[int(np.argmax(auto.linear.values))]) == 0.0
    shutil.rmtree(tmp_path / "archive")


def test_day_entries_account_for_every_listed_channel(bad_run: dict[str, Any]) -> None:
    from c4.store import day_entry

    out = str(bad_run["root"] / "out")
    first, second = day_entry(out, day("2024-01-01")), day_entry(out, day("2024-01-02"))
    assert first is not None and second is not None
    s05 = first["channels"]["SY.S05..HHZ"]
    assert (s05["listed"], s05["fetched"], s05["read"], s05["dropped"]) == (1, 1, 0, "corrupt")
    assert first["channels"]["SY.S04..HHZ"]["dropped"] == "no metadata"
    assert first["channels_dropped"] == {"corrupt": 1, "no metadata": 1}
    assert (first["files_listed"], first["files_fetched"], first["files_read"]) == (5, 4, 3)
    # the gap 3000..4200 s touches the 600 s windows starting at 2700, 3000, ..., 3900 s
    gappy = second["channels"]["SY.S02..HHZ"]
    assert gappy["dropped"] is None and gappy["windows_rejected"] == {"gaps": 5}
    assert gappy["windows_kept"] == second["windows_per_channel"] - 5
    assert second["windows_rejected"] == 5 and second["channels_dropped"] == {"no metadata": 1}
