"""Day states on a real miniSEED archive on disk: a missing source folder, an empty day folder,
metadata that arrive later, replaced files and ``--redo`` each give their documented state,
message and exit code; a day that was empty is processed once its files exist, with results
bit for bit those of a run that never had the fault."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import c4
import pytest
from c4.days import day_records, input_changes
from c4.pipeline import run_shard
from c4.report import store_report
from c4.store import completed_days, completed_shards, day_entry, open_daily
from c4.store import output_location as loc_of

from tests.pipeline_helpers import (
    arrays_equal,
    product_files,
    run_c4,
    small_archive,
    small_config,
    write_config,
)

D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """4 stations, 2 days of 1 h; a clean run of it (the results every faulty run must end
    with)."""
    root = tmp_path_factory.mktemp("days")
    arch = small_archive(root / "archive", days=2, n_stations=4, day_length_s=3600.0)
    (root / "scratch").mkdir()
    cfg = small_config(arch, root / "clean", root / "scratch")
    run_shard(cfg, 0)
    return {"root": root, "arch": arch}


def setup(base: dict[str, Any], tmp: Path) -> tuple[Path, Any, Path]:
    """A copy of the archive (same file times), its config and config file."""
    archive = tmp / "archive"
    shutil.copytree(base["arch"]["root"], archive)
    arch = {**base["arch"], "root": str(archive), "stations": str(archive / "FDSNstationXML")}
    (tmp / "scratch").mkdir()
    cfg = small_config(arch, tmp / "out", tmp / "scratch")
    return archive, cfg, write_config(cfg, tmp / "c4.toml")


def same_as_clean(base: dict[str, Any], out: Path) -> None:
    clean = base["root"] / "clean"
    assert arrays_equal(c4.open_results(str(out)), c4.open_results(str(clean)))
    # the days kept once the shard is closed (output.daily, one Zarr store; its zarr.json
    # attributes hold the config, whose paths differ)
    mine, want = (product_files(run / "daily" / "2024-01.zarr") for run in (out, clean))
    assert mine and mine == want
    assert not any((out / "daily" / d.isoformat()).exists() for d in (D1, D2))


def test_missing_or_mistyped_source_folder_is_one_line(base: dict[str, Any],
                                                       tmp_path: Path) -> None:
    archive, _, path = setup(base, tmp_path)
    typo = f"{archive}-typo"  # missing: caught before any work (c4.preflight), exit 2
    res = run_c4("correlate", "--config", str(path), "--index", "0", "--set",
                 f'data.source="{typo}"')
    assert res.returncode == 2, res.stderr
    assert f"data.source: {typo} does not exist" in res.stderr and "Traceback" not in res.stderr

    # the folder exists, but data.layout is not its layout: every day is empty, exit 1
    res = run_c4("correlate", "--config", str(path), "--index", "0", "--set",
                 'data.layout="ncedc"')
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    line = [x for x in res.stderr.splitlines() if "no files for any" in x]
    assert len(line) == 1, res.stderr
    assert (f"shard 2024-01: no files for any of its 2 day(s): listed "
            f"{archive}/continuous_waveforms/<NET>/2024/2024.001/ .. "
            f"{archive}/continuous_waveforms/<NET>/2024/2024.002/, expected keys like "
            "continuous_waveforms/<NET>/2024/2024.001/<STA>.<NET>.<CHA>.<LOC>.D.2024.001; "
            "check data.source and data.layout") in line[0]
    out = tmp_path / "out"
    assert completed_days(str(out)) == set() and completed_shards(str(out)) == set()
    records = day_records(loc_of(str(out)))
    assert {d: r["state"] for d, r in records.items()} == {D1: "empty", D2: "empty"}
    assert records[D1]["listed"] == f"{archive}/continuous_waveforms/<NET>/2024/2024.001/"


def test_empty_day_folder_is_listed_again_and_then_processed(base: dict[str, Any],
                                                             tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    archive, cfg, _ = setup(base, tmp_path)
    folder = archive / "continuous_waveforms" / "2024" / "2024_002"
    shutil.move(folder, tmp_path / "held")
    folder.mkdir()
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        summary = run_shard(cfg, 0)
    assert summary["days_empty"] == ["2024-01-02"] and summary["days_computed"] == ["2024-01-01"]
    assert f"day 2024-01-02 is empty: no files listed in {folder}/" in caplog.text
    assert ("shard 2024-01: 1 of 2 days had no files (2024-01-02): not marked complete; a "
            "re-run lists them again") in caplog.text
    assert completed_days(str(out)) == {D1} and completed_shards(str(out)) == set()
    report = store_report(str(out))
    (shard,) = report["shards"]
    assert shard["state"] == "incomplete" and shard["counts"] == {
        "complete": 1, "empty": 1, "failed": 0}
    assert [(r["day"], r["state"]) for r in shard["days"]] == [
        ("2024-01-01", "complete"), ("2024-01-02", "empty")]
    assert shard["days"][0]["pairs"] == 6 and shard["days"][0]["channels"] == 4
    assert shard["days"][0]["windows_kept"] == 4 * 11

    folder.rmdir()
    shutil.move(tmp_path / "held", folder)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        summary = run_shard(cfg, 0)
    assert "day 2024-01-01 already complete, skipping" in caplog.text
    assert "day 2024-01-02 was empty before; listing it again" in caplog.text
    assert summary["days_computed"] == ["2024-01-02"] and summary["days_empty"] == []
    assert completed_shards(str(out)) == {0} and day_records(loc_of(str(out))) == {}
    same_as_clean(base, out)


def test_metadata_arriving_later_recomputes_the_days(base: dict[str, Any],
                                                     tmp_path: Path) -> None:
    archive, cfg, path = setup(base, tmp_path)
    xml = archive / "FDSNstationXML" / "SY" / "SY_S04.xml"
    shutil.move(xml, tmp_path / "S04.xml")
    out = tmp_path / "out"
    run_shard(cfg, 0)
    entry = day_entry(str(out), D1)
    assert entry is not None and entry["n_channels"] == 3
    assert entry["channels"]["SY.S04..HHZ"]["dropped"] == "no metadata"
    assert entry["channels_dropped"] == {"no metadata": 1}

    shutil.move(tmp_path / "S04.xml", xml)
    res = run_c4("correlate", "--config", str(path), "--index", "0")
    assert res.returncode == 0, res.stderr
    for d in ("2024-01-01", "2024-01-02"):
        assert (f"day {d}: recomputing: its inputs changed since it was computed (metadata "
                "of SY.S04 now exist(s))") in res.stderr
    same_as_clean(base, out)

    res = run_c4("report", str(out))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == ("shard 2024-01 (0): complete, 2 complete, 0 empty, 0 failed; "
                        "store shards/2024-01.zarr")
    assert lines[1].split() == ["2024-01-01", "complete", "4", "channels,", "6", "pairs,",
                                "windows", "44", "kept,", "0", "rejected"]
    as_json = json.loads(run_c4("report", str(out), "--json").stdout)
    assert as_json["days"] == {"complete": 2, "empty": 0, "failed": 0}
    assert run_c4("report", str(tmp_path / "nothing")).returncode == 2


def test_replaced_file_and_redo_recompute_only_that_day(base: dict[str, Any],
                                                        tmp_path: Path) -> None:
    archive, cfg, path = setup(base, tmp_path)
    out = tmp_path / "out"
    run_shard(cfg, 0)
    f = next((archive / "continuous_waveforms" / "2024" / "2024_001").glob("SYS02*"))
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    res = run_c4("correlate", "--config", str(path), "--index", "0", "--redo", "2024-01-02")
    assert res.returncode == 0, res.stderr
    key = f.relative_to(archive).as_posix()
    assert (f"day 2024-01-01: recomputing: its inputs changed since it was computed (1 "
            f"replaced file(s): {key})") in res.stderr
    assert "day 2024-01-02: recomputing: --redo asks for it" in res.stderr
    same_as_clean(base, out)
    res = run_c4("correlate", "--config", str(path), "--index", "0", "--redo", "yesterday")
    assert res.returncode == 2 and "expected a day YYYY-MM-DD or 'all'" in res.stderr


def test_an_unmounted_archive_keeps_finished_days(base: dict[str, Any], tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    archive, cfg, _ = setup(base, tmp_path)
    run_shard(cfg, 0)
    shutil.rmtree(archive / "continuous_waveforms")
    with caplog.at_level(logging.INFO):
        again = run_shard(cfg, 0)
    assert "shard 2024-01 (0) already complete, skipping" in caplog.text
    assert again["days_computed"] == ["2024-01-01", "2024-01-02"]  # the entry of the first run
    assert completed_days(str(tmp_path / "out")) == {D1, D2}
    assert open_daily(str(tmp_path / "out")).sizes["time"] == 2


def test_input_changes_name_what_changed() -> None:
    old = {"inputs": {"digest": "a", "files": {"k1": [10, "e1"], "k2": [10, "e2"]},
                      "metadata": {"N.A": None, "N.B": "b.xml@1:1"}}}
    new = {"digest": "b", "files": {"k1": [10, "e1"], "k2": [11, "e3"], "k3": [5, "e4"]},
           "metadata": {"N.A": "a.xml@1:2", "N.B": "b.xml@1:1"}}
    assert input_changes(old, new) == ("1 new file(s): k3; 1 replaced file(s): k2; metadata "
                                       "of N.A now exist(s)")
    gone = {"digest": "c", "files": {"k1": [10, "e1"]}, "metadata": {"N.A": None}}
    assert input_changes(old, gone) is None  # files or metadata that vanished keep the day
    assert input_changes(old, {**old["inputs"]}) is None
    assert input_changes({"n_files": 0}, new) is not None  # an old c4's "complete" empty day
    assert input_changes({"n_files": 3}, new) is None
