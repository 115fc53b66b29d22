"""`c4 correlate` and `c4 stack` end to end with the methods of issue 13: phase
cross-correlation, the tf-PWS and selective stacks, rejected-window counts in the day entry."""

from __future__ import annotations

from pathlib import Path

import c4
import numpy as np
from c4.store import day_entry, output_location

from tests.pipeline_helpers import (
    assert_physics,
    run_c4,
    small_archive,
    small_config,
    write_config,
)


def test_pcc_with_tfpws_and_selective_stacks(tmp_path: Path) -> None:
    arch = small_archive(tmp_path / "archive")
    (tmp_path / "scratch").mkdir()
    cfg = small_config(arch, tmp_path / "out", tmp_path / "scratch", cc_method="pcc",
                       freq_norm="phase_only",
                       stack_methods=["linear", "tfpws", "selective"], max_over_std=8.0)
    path = write_config(cfg, tmp_path / "c4.toml")
    res = run_c4("correlate", "--config", str(path), "--index", "0")
    assert res.returncode == 0, res.stderr
    ds = c4.open_results(str(tmp_path / "out"))
    for method in ("linear", "tfpws", "selective"):
        assert np.isfinite(ds[method].values).all()
        assert np.abs(ds[method].values).max() > 0
    # PCC of the synthetic diffuse field keeps the arrival times (3 samples of theory).
    assert_physics(ds, cfg, "linear")
    # The day entry counts every channel's rejected windows per reason.
    entry = day_entry(output_location(str(tmp_path / "out")), arch["start"])
    assert entry is not None
    counts = entry["rejected_windows"]
    assert sorted(counts) == sorted(f"SY.S{i:02d}..HHZ" for i in range(1, 5))
    for reasons in counts.values():
        assert set(reasons) == {"gaps", "flat", "max_std_ratio", "max_over_std"}
        assert sum(reasons.values()) <= entry["windows_per_channel"]
    # c4 stack offers the new methods too.
    res = run_c4("stack", "--config", str(path), "--name", "tf", "--method", "tfpws",
                 "--method", "selective")
    assert res.returncode == 0, res.stderr
    stacked = c4.open_results(str(tmp_path / "out" / "stacks" / "tf.zarr"))
    assert set(stacked.data_vars) >= {"tfpws", "selective"}
    np.testing.assert_allclose(stacked["tfpws"].values, ds["tfpws"].values, rtol=1e-5,
                               atol=1e-7)
