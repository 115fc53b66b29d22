"""A shard killed with SIGKILL and started again gives bit-identical results and does not
recompute finished days."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import c4

from tests.pipeline_helpers import (
    arrays_equal,
    product_files,
    run_c4,
    small_archive,
    small_config,
    write_config,
)


def test_sigkill_mid_shard_then_resume_is_bit_identical(tmp_path: Path) -> None:
    arch = small_archive(tmp_path / "archive", days=6, n_stations=4, day_length_s=3600.0)
    (tmp_path / "scratch").mkdir()
    cfg = small_config(arch, tmp_path / "killed", tmp_path / "scratch")
    path = write_config(cfg, tmp_path / "c4.toml")
    env = {**os.environ, "C4_NUM_THREADS": "2"}
    cmd = [sys.executable, "-c", "from c4.cli import main; main()", "correlate", "--config",
           str(path), "--index", "0"]
    first = tmp_path / "killed" / "manifest" / "days" / "2024-01-01.json"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done = sorted(p.stem for p in (tmp_path / "killed" / "manifest" / "days").glob("*.json"))
    assert done, "no day finished before the kill"
    assert not (tmp_path / "killed" / "manifest" / "shards").exists()

    resumed = run_c4("correlate", "--config", str(path), "--index", "0")
    assert resumed.returncode == 0, resumed.stderr
    for d in done:
        assert f"day {d} already complete, skipping" in resumed.stderr
        assert f'"day":"{d}"' not in resumed.stderr  # no day_done event: not recomputed
    for d in sorted(set(f"2024-01-0{k}" for k in range(1, 7)) - set(done)):
        assert f'"day":"{d}"' in resumed.stderr

    clean = run_c4("correlate", "--config", str(path), "--index", "0",
                   "--output", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    a = c4.open_results(str(tmp_path / "killed"))
    b = c4.open_results(str(tmp_path / "clean"))
    assert arrays_equal(a, b)
    # the kept dailies (output.daily = float32: one Zarr store for the shard) byte for byte;
    kept_a, kept_b = (product_files(tmp_path / run / "daily" / "2024-01.zarr")
                      for run in ("killed", "clean"))
    assert kept_a and kept_a == kept_b
    assert not list((tmp_path / "killed" / "daily").glob("2024-01-0?"))  # work files removed
