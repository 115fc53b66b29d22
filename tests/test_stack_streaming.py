"""`c4 stack` of a year holds about its batch setting (output.stack_batch_mb) in memory, not
the year, and gives the same stacks as one unbatched stack and as a numpy reference."""

from __future__ import annotations

import datetime as dt
import logging
import tracemalloc
from pathlib import Path

import c4
import numpy as np
import pytest
from c4.moving import moving_stack_results
from c4.stacking import stack_results

from tests.pipeline_helpers import arrays_equal
from tests.stack_helpers import reference_stacks, stack_config, write_days

YEAR = [dt.date(2024, 1, 1) + dt.timedelta(days=k) for k in range(366)]
N_PAIRS, N_LAGS = 40, 401
MIB = 2**20


def _peak(fn: object) -> tuple[object, int]:
    """Result of ``fn()`` and the peak of memory allocated (Python and numpy) meanwhile."""
    tracemalloc.start()
    try:
        out = fn()  # type: ignore[operator]
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_year_stack_is_streamed_in_bounded_memory_and_equals_the_unbatched_stack(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # pytest keeps every log record it captures: at DEBUG (left by an earlier test) those
    # of zarr and numcodecs would be counted as the stack's memory
    caplog.set_level(logging.WARNING)
    (tmp_path / "scratch").mkdir()
    cfg = stack_config(tmp_path / "out", tmp_path / "scratch", maxlag=20.0)
    cfg.output.pair_partitions = 1
    write_days(cfg, YEAR, N_PAIRS)
    year_bytes = 0.8 * len(YEAR) * N_PAIRS * N_LAGS * 4  # ~18.8 MB of daily correlations
    small = cfg.model_copy(deep=True)
    small.output.stack_batch_mb = 0.01  # imports and caches of both paths outside the count
    stack_results(small, name="warm-up", end=YEAR[2])
    stack_results(cfg, name="warm-up", end=YEAR[2])
    small.output.stack_batch_mb = 2.0
    url_small, peak_small = _peak(lambda: stack_results(small, name="small"))
    url_big, peak_big = _peak(lambda: stack_results(cfg, name="big"))
    # the year's one partition is ~19 MB: the 2 MiB batch spills it to scratch and stacks
    # blocks of ~8 pairs (a batch plus its gathered copy, ~2 x 2 MiB, and small change);
    # unbatched, the whole year is held (and gathered) at once. The sharded, compressed
    # writer (zarr's sharding and Blosc buffers) adds a constant ~1.5 MB.
    assert peak_small < 8 * MIB, peak_small
    assert peak_big > year_bytes, peak_big
    assert list((tmp_path / "scratch").iterdir()) == []  # spilled days removed

    a = c4.open_results(str(url_small)).sortby("pair").load()
    b = c4.open_results(str(url_big)).sortby("pair").load()
    assert arrays_equal(a, b)  # bit for bit
    assert a.attrs["days"] == [d.isoformat() for d in YEAR]
    want = reference_stacks(cfg, YEAR)
    assert sorted(want) == list(a.pair.values)
    for name, w in want.items():
        got = a.sel(pair=name)
        assert int(got.n_days) == w["n_days"]
        for method in ("linear", "pws", "robust"):
            scale = np.abs(w[method]).max()
            np.testing.assert_allclose(got[method].values, w[method], rtol=0,
                                       atol=2e-4 * scale, err_msg=f"{name} {method}")


def test_moving_stacks_in_small_batches_equal_unbatched_ones(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    cfg = stack_config(tmp_path / "out", tmp_path / "scratch", stack_methods=["linear"])
    days = YEAR[:90]
    write_days(cfg, days, 16, seed=1)
    small = cfg.model_copy(deep=True)
    small.output.stack_batch_mb = 0.2
    a = c4.open_results(moving_stack_results(small, length=10, step=5, name="small"))
    b = c4.open_results(moving_stack_results(cfg, length=10, step=5, name="big"))
    assert a.sizes["time"] == 18
    assert arrays_equal(a.sortby("pair").load(), b.sortby("pair").load())
