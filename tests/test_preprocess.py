"""Preprocessing of channel-days: gaps, resampling, corrupt files, too little data."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from c4.preprocess import ChannelTask, Preprocessor, preprocess_channel, remove_line
from obspy import Trace, UTCDateTime

T0 = UTCDateTime(2024, 1, 1)
ID = "XX.STA..HHZ"


def write(path: Path, data: np.ndarray, fs: float, start: UTCDateTime) -> str:
    tr = Trace(data.astype(np.float32), header={"network": "XX", "station": "STA",
                                                "channel": "HHZ", "sampling_rate": fs,
                                                "starttime": start})
    tr.write(str(path), format="MSEED", encoding="FLOAT32")
    return str(path)


def task(paths: list[str], npts: int = 3600, fs: float = 10.0, frac: float = 0.5) -> ChannelTask:
    return ChannelTask(ID, tuple(paths), str(T0), npts, fs, frac)


def sine(fs: float, seconds: float, f: float = 0.5, t0: float = 0.0) -> np.ndarray:
    t = t0 + np.arange(round(seconds * fs)) / fs
    return np.sin(2 * np.pi * f * t)


def test_gaps_are_zero_filled_and_masked(tmp_path: Path) -> None:
    a = write(tmp_path / "a.ms", sine(10.0, 1500), 10.0, T0)
    b = write(tmp_path / "b.ms", sine(10.0, 1500, t0=2000), 10.0, T0 + 2000)
    r = preprocess_channel(task([a, b], npts=36000))
    assert r.data is not None and r.gaps is not None
    assert r.data.dtype == np.float32 and r.data.shape == (36000,)
    assert not r.gaps[:15000].any() and r.gaps[15000:20000].all()
    assert not r.gaps[20000:35000].any() and r.gaps[35000:].all()
    assert (r.data[r.gaps] == 0).all()
    assert any("gaps in" in m for _, m in r.messages)


def test_downsampling_keeps_in_band_signal_on_the_grid(tmp_path: Path) -> None:
    # 100 Hz -> 10 Hz by decimation (aligned) and by interpolation (start 3 ms late)
    for offset in (0.0, 0.003):
        path = write(tmp_path / f"x{offset}.ms", sine(100.0, 400, t0=offset), 100.0, T0 + offset)
        r = preprocess_channel(task([path], npts=4000))
        assert r.data is not None
        expect = sine(10.0, 400)
        inner = slice(1000, 3000)  # away from the tapers
        np.testing.assert_allclose(r.data[inner], expect[inner], atol=0.02)


def test_corrupt_file_is_logged_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                            ) -> None:
    good = write(tmp_path / "good.ms", sine(10.0, 360), 10.0, T0)
    bad = tmp_path / "bad.ms"
    bad.write_bytes(b"\x00garbage" * 100)
    with caplog.at_level(logging.INFO):
        results = Preprocessor(1).run([task([str(bad), good])])
    assert results[0].data is not None
    assert f"skipping corrupt file {bad}:" in caplog.text


def test_too_little_data_drops_the_channel(tmp_path: Path) -> None:
    path = write(tmp_path / "short.ms", sine(10.0, 600), 10.0, T0)
    r = preprocess_channel(task([path], npts=36000, frac=0.5))
    assert r.data is None
    assert any("only 17% of the day has data" in m for _, m in r.messages)


def test_process_pool_gives_the_serial_result(tmp_path: Path) -> None:
    tasks = []
    for k in range(3):
        path = write(tmp_path / f"{k}.ms", np.random.default_rng(k).standard_normal(36000),
                     10.0, T0)
        tasks.append(task([path]))
    serial = Preprocessor(1).run(tasks)
    with Preprocessor(2) as pool:
        parallel = pool.run(tasks)
    for s, p in zip(serial, parallel, strict=True):
        assert s.data is not None and p.data is not None
        assert s.data.tobytes() == p.data.tobytes()


def test_remove_line_equals_obspy_demean_and_linear_detrend() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal(10_001) * 50 + np.linspace(-300, 900, 10_001) + 1e5
    tr = Trace(x.copy())
    tr.detrend("demean")
    tr.detrend("linear")
    np.testing.assert_allclose(remove_line(x), tr.data, rtol=0, atol=1e-8 * np.abs(x).max())
    assert remove_line(np.array([3.0])).tolist() == [0.0]
