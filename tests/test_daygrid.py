"""The kernels preprocessing path (c4.daygrid) against the obspy reference path (c4.preprocess).

Both read the same real miniSEED files (STEIM2 int32 counts, as SCEDC archives hold them) and
must give the same channel-days in the band a correlation uses. Stated agreement: correlation
coefficient of the band-passed (0.05-2 Hz) channel-days >= 0.9999, of final correlations
>= 0.999 (tested end to end in test_final_correlations_agree_with_the_obspy_path).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
from c4 import kernels
from c4.daygrid import grid_channel
from c4.preprocess import ChannelTask, Preprocessor, preprocess_channel
from obspy import Trace, UTCDateTime, read

T0 = UTCDateTime(2024, 1, 1)
ID = "XX.STA..HHZ"


def band(x: np.ndarray, fs: float, lo: float = 0.05, hi: float = 2.0) -> np.ndarray:
    sos = scipy.signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
    return scipy.signal.sosfiltfilt(sos, np.asarray(x, np.float64))


def cc(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def noise(fs: float, seconds: float, seed: int = 0) -> np.ndarray:
    """Red-ish noise in counts: band-limited (0.02-8 Hz) plus white noise, on an offset."""
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    x = band(rng.standard_normal(n), fs, 0.02, min(8.0, 0.45 * fs)) * 5e4
    return x + rng.standard_normal(n) * 30 + 2e5


def write(path: Path, data: np.ndarray, fs: float, start: UTCDateTime,
          encoding: str = "STEIM2") -> str:
    samples = np.round(data).astype(np.int32) if encoding == "STEIM2" else data.astype(np.float32)
    Trace(samples, header={"network": "XX", "station": "STA", "channel": "HHZ",
                           "sampling_rate": fs, "starttime": start}
          ).write(str(path), format="MSEED", encoding=encoding)
    return str(path)


def task(paths: list[str], npts: int, fs: float = 20.0, frac: float = 0.5,
         **kw: object) -> ChannelTask:
    return ChannelTask(ID, tuple(paths), str(T0), npts, fs, frac, **kw)  # type: ignore[arg-type]


def kernel_path(t: ChannelTask):
    return grid_channel(t, np.empty(t.npts, np.float32), np.empty(t.npts, bool))


@pytest.mark.parametrize(("fs_in", "offset"), [(100.0, 0.0), (100.0, 0.0133), (40.0, 0.0),
                                               (50.0, 0.0)])
def test_channel_days_agree_with_the_obspy_path(tmp_path: Path, fs_in: float, offset: float
                                                ) -> None:
    # three hours with a 20-minute gap; 13.3 ms late is a fractional start phase; 50 Hz is a
    # non-integer ratio (resampled)
    x = noise(fs_in, 3 * 3600, seed=int(fs_in))
    cut = round(3600 * fs_in)
    gap = round(1200 * fs_in)
    a = write(tmp_path / "a.ms", x[:cut], fs_in, T0 + offset)
    b = write(tmp_path / "b.ms", x[cut + gap:], fs_in, T0 + offset + (cut + gap) / fs_in)
    t = task([a, b], npts=3 * 3600 * 20)
    ref, new = preprocess_channel(t), kernel_path(t)
    assert ref.data is not None and new.data is not None and new.gaps is not None
    assert new.data.dtype == np.float32
    np.testing.assert_array_equal(new.gaps, ref.gaps)
    inner = slice(20 * 600, 20 * 3000)  # away from the tapers at the gap
    r, k = band(ref.data, 20.0)[inner], band(new.data, 20.0)[inner]
    assert cc(r, k) >= 0.9999
    assert abs(np.std(k) / np.std(r) - 1) < 2e-3


def test_gaps_are_zero_filled_and_masked_and_short_days_dropped(tmp_path: Path) -> None:
    a = write(tmp_path / "a.ms", noise(10.0, 1500), 10.0, T0)
    b = write(tmp_path / "b.ms", noise(10.0, 1500, 1), 10.0, T0 + 2000)
    r = kernel_path(task([a, b], npts=36000, fs=10.0))
    assert r.data is not None and r.gaps is not None and r.reason is None
    assert not r.gaps[:15000].any() and r.gaps[15000:20000].all()
    assert not r.gaps[20000:35000].any() and r.gaps[35000:].all()
    assert (r.data[r.gaps] == 0).all()
    assert any("gaps in" in m for _, m in r.messages)
    short = kernel_path(task([a], npts=36000 * 4, fs=10.0))
    assert short.data is None and short.reason is not None
    assert short.reason.startswith("only 10% of the day has data")
    assert any(f"dropping {ID}: only 10%" in m for _, m in short.messages)


def test_corrupt_and_unreadable_files_are_skipped_with_their_name(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = write(tmp_path / "good.ms", noise(20.0, 3600), 20.0, T0)
    bad = tmp_path / "bad.ms"
    bad.write_bytes(b"\x00garbage" * 100)
    missing = tmp_path / "missing.ms"
    with caplog.at_level(logging.INFO):
        results = Preprocessor(2).run([task([str(bad), str(missing), good], npts=72000),
                                       task([str(bad)], npts=72000)])
    assert results[0].data is not None
    assert results[1].data is None and results[1].reason == "no readable data"
    assert f"skipping corrupt file {bad}:" in caplog.text
    assert f"skipping corrupt file {missing}:" in caplog.text


def test_threads_give_the_serial_result_and_rows_of_dropped_channels_go(tmp_path: Path) -> None:
    tasks = []
    for k in range(5):
        seconds = 600 if k == 2 else 3600  # channel 2 has too little data
        path = write(tmp_path / f"{k}.ms", noise(100.0, seconds, k), 100.0, T0)
        tasks.append(task([path], npts=72000))
    serial = Preprocessor(1).day(tasks)
    with Preprocessor(3) as pre:
        threaded = pre.day(tasks)
    assert [r.reason is None for r in threaded.results] == [True, True, False, True, True]
    assert threaded.data.shape == (4, 72000) and threaded.gaps.shape == (4, 72000)
    np.testing.assert_array_equal(threaded.data, serial.data)
    np.testing.assert_array_equal(threaded.gaps, serial.gaps)
    for row, r in zip(threaded.data, threaded.kept, strict=True):
        assert r.data is not None and np.shares_memory(r.data, threaded.data)
        np.testing.assert_array_equal(row, r.data)
    # the rows are the channels' own (channel 3 moved up into row 2)
    alone = kernel_path(tasks[3])
    assert alone.data is not None
    np.testing.assert_array_equal(threaded.data[2], alone.data)


def test_the_obspy_method_gives_the_same_records_layout(tmp_path: Path) -> None:
    path = write(tmp_path / "x.ms", noise(40.0, 3600), 40.0, T0)
    ref = Preprocessor(1, "obspy").day([task([path], npts=72000)])
    new = Preprocessor(1, "kernels").day([task([path], npts=72000)])
    assert ref.data.shape == new.data.shape == (1, 72000)
    assert cc(band(ref.data[0], 20.0)[6000:60000], band(new.data[0], 20.0)[6000:60000]) > 0.9999
    with pytest.raises(ValueError, match="method: unknown value 'fast'"):
        Preprocessor(1, "fast")


def _ground_motion(seconds: float, seed: int = 7):
    """Broadband (0.1-4 Hz) noise defined at any time in [-10, seconds + 10] s: generated at
    40 Hz, upsampled to 160 Hz (polyphase) and interpolated linearly (error ~1e-3 of the
    amplitude, -60 dB), in counts of std ~1e4."""
    rng = np.random.default_rng(seed)
    n = round((seconds + 20) * 40)
    x = band(rng.standard_normal(n), 40.0, 0.1, 4.0) * 3e4
    up = scipy.signal.resample_poly(x, 4, 1)
    t_up = -10.0 + np.arange(len(up)) / 160.0
    return lambda t: np.interp(t, t_up, up)


def test_a_jittered_sampling_rate_is_resampled_and_correlates_like_the_clean_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Issue 12 / NoisePy #334: a digitiser whose clock runs at 40.000016 Hz. Over the day its
    # samples drift 35 ms (1.4 samples) from a 40 Hz grid. Its channel-day must be used, put on
    # the grid at its true sample times, and logged once; the same ground motion recorded at
    # 40 Hz is the clean reference. Stated tolerance: records and correlations match the clean
    # ones with a correlation coefficient >= 0.9999 and the same peak lag.
    day = 86400.0
    fs = 20.0
    _signal = _ground_motion(day)
    delay = 2.5  # station B records the motion 2.5 s after station A
    clean_t = np.arange(round(day * 40.0)) / 40.0
    # miniSEED holds the rate as a factor and multiplier: 40.000016 Hz is stored as the nearest
    # such value, 40.0000153 Hz; the record's true sample times are those of the stored rate
    probe = write(tmp_path / "probe.ms", np.zeros(10), 40.000016, T0)
    jitter_rate = read(probe)[0].stats.sampling_rate
    assert jitter_rate != 40.0 and abs(jitter_rate - 40.000016) < 1e-6
    jitter_t = np.arange(round(day * jitter_rate)) / jitter_rate
    a = write(tmp_path / "a.ms", _signal(clean_t), 40.0, T0)
    b_clean = write(tmp_path / "b.ms", _signal(clean_t - delay), 40.0, T0)
    jittered = _signal(jitter_t - delay)
    b_jitter = write(tmp_path / "bj.ms", jittered, jitter_rate, T0)
    # the same day as two files: the clock at 40.0000153 Hz until noon, then (after a fix) at
    # 40 Hz; the obspy path would keep only one of the two rates
    half = len(jitter_t) // 2
    noon = float(jitter_t[half])
    j1 = write(tmp_path / "bj1.ms", jittered[:half], jitter_rate, T0)
    second = noon + np.arange(round((day - noon) * 40.0)) / 40.0
    j2 = write(tmp_path / "bj2.ms", _signal(second - delay), 40.0, T0 + noon)
    npts = round(day * fs)
    with caplog.at_level(logging.INFO):
        recs = Preprocessor(2).day([task([a], npts), task([b_clean], npts),
                                    task([b_jitter], npts), task([j1, j2], npts)])
    assert [r.reason for r in recs.results] == [None] * 4
    assert caplog.text.count(f"sampling rate {jitter_rate:.9g} Hz (+0.38 ppm off 40 Hz); "
                             "resampled onto the 20 Hz grid") == 2
    assert caplog.text.count("mixed sampling rates") == 0  # one nominal rate
    assert not recs.gaps[1:].any()
    # compared away from the ends and from the tapers where the clock changed (noon +- 5 min)
    inner = np.zeros(npts, bool)
    inner[20 * 600:npts - 20 * 600] = True
    inner[round((noon - 300) * fs):round((noon + 300) * fs)] = False
    for row in (2, 3):
        assert cc(band(recs.data[1], fs)[inner], band(recs.data[row], fs)[inner]) >= 0.9999
    spec = kernels.spectra(recs.data, fs, cc_len=1800, step=450, maxlag=20, freqmin=0.1,
                           freqmax=2.0, gaps=recs.gaps)
    out = kernels.correlate(spec, np.array([[0, 1], [0, 2], [0, 3]]), maxlag=20)
    clean, *jittered = out.data[:, 0]
    lags = out.lags
    assert lags[np.argmax(clean)] == pytest.approx(delay)
    for trace in jittered:
        assert cc(clean, trace) >= 0.9999
        assert lags[np.argmax(trace)] == lags[np.argmax(clean)]
    # the obspy path, given the two-rate day, keeps only the most common rate's samples
    ref = preprocess_channel(task([j1, j2], npts))
    assert ref.gaps is not None and ref.gaps.mean() > 0.4


def test_response_removal_agrees_with_obspy(tmp_path: Path) -> None:
    from obspy import read_inventory

    inv = read_inventory()  # obspy's example: GR.FUR..BHZ is an STS-2 at 20 Hz
    resp_id = "GR.FUR..BHZ"
    start = UTCDateTime(2010, 1, 1)
    x = noise(20.0, 2400, seed=5)
    path = tmp_path / "fur.ms"
    Trace(np.round(x).astype(np.int32), header={
        "network": "GR", "station": "FUR", "channel": "BHZ", "sampling_rate": 20.0,
        "starttime": start}).write(str(path), format="MSEED", encoding="STEIM2")
    pre_filt = (0.025, 0.05, 2.0, 3.0)
    t = ChannelTask(resp_id, (str(path),), str(start), 2400 * 10, 10.0, 0.5, True, "VEL",
                    pre_filt, inv)
    ref, new = preprocess_channel(t), kernel_path(t)
    assert ref.data is not None and new.data is not None
    inner = slice(10 * 300, 10 * 2100)
    r, k = band(ref.data, 10.0)[inner], band(new.data, 10.0)[inner]
    assert np.std(r) < 1e-3  # m/s, not counts
    assert cc(r, k) >= 0.999
    assert abs(np.std(k) / np.std(r) - 1) < 0.01
    # a channel the inventory does not describe: dropped with the reason
    other = tmp_path / "zzz.ms"
    Trace(np.round(x).astype(np.int32), header={
        "network": "GR", "station": "ZZZ", "channel": "BHZ", "sampling_rate": 20.0,
        "starttime": start}).write(str(other), format="MSEED", encoding="STEIM2")
    t_bad = ChannelTask("GR.ZZZ..BHZ", (str(other),), str(start), 2400 * 10, 10.0, 0.5, True,
                        "VEL", pre_filt, inv)
    gone = kernel_path(t_bad)
    assert gone.data is None and gone.reason is not None
    assert gone.reason.startswith("response removal failed: ")


def test_final_correlations_agree_with_the_obspy_path(tmp_path: Path) -> None:
    # A 100 Hz archive of STEIM2 counts (4 stations, one 2-hour day of a diffuse field)
    # correlated at 20 Hz by both paths: every pair's stack agrees (cc >= 0.999) and the
    # kernels' result passes the physics check.
    import c4
    from c4.pipeline import run_shard

    from tests.pipeline_helpers import assert_physics, small_archive, small_config

    arch = small_archive(tmp_path / "archive", fs=100.0, days=1, encoding="STEIM2",
                         band=(0.05, 5.0))
    stacks = {}
    for method in ("obspy", "kernels"):
        (tmp_path / f"scratch-{method}").mkdir()
        cfg = small_config(arch, tmp_path / f"out-{method}", tmp_path / f"scratch-{method}",
                           sampling_rate=20.0, preprocess=method, workers=2)
        summary = run_shard(cfg, 0)
        ds = c4.open_results(str(tmp_path / f"out-{method}" / summary["store"]))
        stacks[method] = ds
    ref, new = stacks["obspy"], stacks["kernels"]
    assert list(ref["pair"].values) == list(new["pair"].values) and ref.sizes["pair"] == 6
    for a, b in zip(ref["linear"].values, new["linear"].values, strict=True):
        assert cc(a, b) >= 0.999
    assert_physics(new, cfg)
