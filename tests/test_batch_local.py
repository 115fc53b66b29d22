"""``c4 local``: array children as local processes, and the same results as ``c4 correlate``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import invoke
from c4.batch.local import run_local
from c4.shards import shard_label
from c4.store import completed_shards, open_results
from pipeline_helpers import run_c4, small_archive, small_config, write_config

CHILD = [sys.executable, "-c",
         "import os, sys; i = int(os.environ['AWS_BATCH_JOB_ARRAY_INDEX']); "
         "print('child', i, os.environ.get('C4_SHARD_MAP', '-')); sys.exit(3 if i == 2 else 0)"]


def test_children_get_their_index_and_map_and_failures_are_reported(tmp_path: Path) -> None:
    runs = run_local(CHILD, 4, 2, tmp_path / "logs", shard_map=[5, 6, 7, 8])
    assert [r.index for r in runs] == [0, 1, 2, 3]
    assert [r.returncode for r in runs] == [0, 0, 3, 0]
    for r in runs:
        assert r.log.read_text().strip() == f"child {r.index} 5,6,7,8"


def test_bad_worker_count_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="workers"):
        run_local(CHILD, 2, 0, tmp_path)


@pytest.mark.slow
def test_local_array_equals_separate_correlate_runs(tmp_path: Path) -> None:
    """`c4 local --months 3` runs three month shards as Batch would; the demo generator writes
    one day of data at the end of each month (the other days have no files, so each shard is
    stacked but not marked complete: a re-run lists those days again)."""
    for last_day in (dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31)):
        archive = small_archive(tmp_path / "archive", days=1, start=last_day)
    results = {}
    for name in ("local", "separate"):
        cfg = small_config(archive, tmp_path / name, tmp_path / f"scratch-{name}",
                           data={"shard": "month", "start": dt.date(2024, 1, 1),
                                 "end": dt.date(2024, 3, 31)})
        (tmp_path / f"scratch-{name}").mkdir()
        results[name] = (cfg, write_config(cfg, tmp_path / f"{name}.toml"))
    cfg, local_toml = results["local"]
    out = invoke("local", "--months", "3", "--workers", "2", "--config", str(local_toml),
                 "--logs", str(tmp_path / "logs"))
    assert out.exit_code == 0, out.output + "".join(
        p.read_text() for p in sorted((tmp_path / "logs").glob("*.log")))
    assert "3 of 3 children succeeded" in out.stdout
    _, separate_toml = results["separate"]
    for i in range(3):
        done = run_c4("correlate", "--index", str(i), "--config", str(separate_toml))
        assert done.returncode == 0, done.stderr
    assert completed_shards(str(tmp_path / "local")) == set()
    assert completed_shards(str(tmp_path / "separate")) == set()
    assert "not marked complete; a re-run lists them again" in done.stderr
    for i in range(3):
        label = shard_label(cfg, i)
        a = open_results(str(tmp_path / "local" / "shards" / f"{label}.zarr"))
        b = open_results(str(tmp_path / "separate" / "shards" / f"{label}.zarr"))
        assert sorted(a.data_vars) == sorted(b.data_vars)
        assert list(a["pair"].values) == list(b["pair"].values)
        for var in a.data_vars:
            np.testing.assert_array_equal(a[var].values, b[var].values)


def test_local_exits_non_zero_when_a_child_fails(tmp_path: Path) -> None:
    bad = tmp_path / "c4.toml"
    bad.write_text('[data]\nstart = 2024-01-01\nend = 2024-02-29\nsource = "'
                   f'{tmp_path / "missing"}"\nlayout = "sds"\n'
                   f'[output]\noutput = "{tmp_path / "out"}"\nscratch = "{tmp_path / "nope"}"\n')
    out = invoke("local", "--months", "2", "--workers", "2", "--config", str(bad),
                 "--logs", str(tmp_path / "logs"))
    assert out.exit_code == 1
    assert "child 0 failed" in out.stderr and "child 1 failed" in out.stderr
    assert (tmp_path / "logs" / "child-1.log").exists()
