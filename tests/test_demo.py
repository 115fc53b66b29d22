"""`c4 demo`: the table of measured vs theoretical peak lags and the fitted velocity."""

from __future__ import annotations

import re
import time
from pathlib import Path

from c4.products import resolve_product
from c4.store import output_location

from tests.pipeline_helpers import run_c4


def test_demo_prints_the_table_and_passes(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    res = run_c4("demo", "--dir", str(tmp_path), env={"COLUMNS": "160"})
    seconds = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "PASS" in out and "SY.S01..HHZ_SY.S02..HHZ" in out
    rows = [line for line in out.splitlines() if "SY.S" in line and "HHZ_" in line]
    assert len(rows) == 15  # 6 stations
    m = re.search(r"fitted velocity ([\d.]+) km/s, true ([\d.]+) km/s", out)
    assert m is not None
    assert abs(float(m.group(1)) / float(m.group(2)) - 1) < 0.02
    m = re.search(r"largest peak-lag difference from theory (\d+) samples", out)
    assert m is not None and int(m.group(1)) <= 3
    store = resolve_product(output_location(str(tmp_path / "results")), "stacks/all.zarr")
    assert store is not None and (tmp_path / "results" / store / "zarr.json").exists()
    assert seconds < 60


def test_demo_without_dir_keeps_its_results_and_says_where(tmp_path: Path) -> None:
    res = run_c4("demo", "--days", "1", "--stations", "3",
                 env={"COLUMNS": "200", "TMPDIR": str(tmp_path)})
    assert res.returncode == 0, res.stdout + res.stderr
    m = re.search(r"^results: (\S+) \(c4\.open_results", res.stdout, re.M)
    assert m is not None, res.stdout
    results = Path(m.group(1))
    assert results.is_absolute() and results.parent.parent == tmp_path
    store = resolve_product(output_location(str(results)), "stacks/all.zarr")
    assert store is not None and (results / store / "zarr.json").exists()  # still there
    assert f"working in {results.parent}" in res.stderr
