"""dv/v per pair-year: 365 daily correlations -> 10-day moving stacks (step 1 day) ->
stretching or MWCS against the whole-year reference, c4 against numpy baselines
(:mod:`benches.dvv_baselines`) in the same session.

Sizes: NoisePy's defaults (20 Hz, maxlag 200 s: 8001 lags), ``PAIRS`` pairs of one year each,
both branches of the lag window 20-120 s (2 x 2001 samples), 0.1-1 Hz; stretching over
±2 % in 101 steps refined to 1e-7; MWCS windows of 20 s every 10 s, nfft 800, smoothing ±3
bins. Smoke mode: 2 pairs, 40 days, 100 s maxlag.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from c4.config import ProcessingConfig
from c4.dvv.config import DvvConfig
from c4.dvv.lagwindow import LagWindow, lag_ranges, segments
from c4.dvv.measure import measure
from c4.dvv.mwcs import delays, window_starts
from c4.dvv.stretching import stretching
from c4.moving import moving_stacks, moving_windows
from c4.plot import bandpass
from c4.store import DailyResult
from threadpoolctl import threadpool_limits

from benches import dvv_baselines as base
from benches.conftest import thread_counts

FS = 20.0
BAND = (0.1, 1.0)
WINDOW = LagWindow(lag_min=20.0, lag_max=120.0)


@pytest.fixture(scope="module")
def year(request: pytest.FixtureRequest) -> dict:
    smoke = request.config.getoption("benchmark_disable")
    n_pairs, n_days, maxlag = (2, 40, 100.0) if smoke else (8, 365, 200.0)
    rng = np.random.default_rng(0)
    lags = np.arange(-round(maxlag * FS), round(maxlag * FS) + 1) / FS
    k = 300
    f = rng.uniform(*BAND, (n_pairs, k))
    ph = rng.uniform(0, 2 * np.pi, (n_pairs, k))
    amp = rng.standard_normal((n_pairs, k))
    dvv = 0.005 * np.sin(2 * np.pi * np.arange(n_days) / n_days)
    env = np.exp(-np.abs(lags) / 60.0)
    days = np.empty((n_pairs, n_days, len(lags)), np.float32)
    for d in range(n_days):
        t = lags * (1 + dvv[d])
        waves = amp[..., None] * np.cos(2 * np.pi * f[..., None] * t + ph[..., None])
        days[:, d] = env * waves.sum(1) + 2.0 * rng.standard_normal((n_pairs, len(lags)))
    names = np.array([f"XX.A{p:02d}..BHZ_XX.B{p:02d}..BHZ" for p in range(n_pairs)])
    d0 = dt.date(2023, 1, 1)
    dailies = [DailyResult(d0 + dt.timedelta(days=d), np.ascontiguousarray(days[:, d, None]),
                           np.ones((n_pairs, 1), np.uint32), lags,
                           {"pair": names, "distance_km": np.full(n_pairs, 30.0)})
               for d in range(n_days)]
    moving = base.moving_linear(days, np.ones(days.shape[:2], bool), 10, 1)
    reference = days.mean(axis=1)
    ref_f = bandpass(reference, FS, BAND).astype(np.float32)
    cur_f = np.ascontiguousarray(bandpass(np.transpose(moving, (1, 0, 2)), FS, BAND),
                                 np.float32)
    seg = segments(lag_ranges(WINDOW, np.full(n_pairs, 30.0), maxlag), lags, "both")
    return {"dailies": dailies, "days": days, "lags": lags, "moving": moving,
            "reference": reference, "ref_f": ref_f, "cur_f": cur_f, "seg": seg,
            "pair_years": n_pairs * n_days / 365}


def _report(benchmark, year: dict, threads: int | None = None) -> None:
    benchmark.extra_info.update(pair_years=year["pair_years"], threads=threads)


@pytest.mark.benchmark(group="dvv-stretching")
@pytest.mark.parametrize("threads", thread_counts())
def test_stretching_c4(benchmark, year, threads) -> None:
    out = benchmark.pedantic(stretching, (year["ref_f"], year["cur_f"], year["seg"],
                                          year["lags"]),
                             kwargs={"max_stretch": 0.02, "n_grid": 101, "threads": threads},
                             rounds=5, iterations=1, warmup_rounds=1)
    year["stretch_c4"] = out
    _report(benchmark, year, threads)


@pytest.mark.benchmark(group="dvv-stretching")
def test_stretching_numpy(benchmark, year) -> None:
    idx = np.concatenate([np.arange(a, b) for a, b in year["seg"][0]])
    zero = len(year["lags"]) // 2
    with threadpool_limits(1):
        dvv, _cc = benchmark.pedantic(base.stretching, (year["ref_f"], year["cur_f"], idx, zero,
                                                       0.02, 101, 1e-7),
                                     rounds=3, iterations=1, warmup_rounds=1)
    ref_dvv, _ = stretching(year["ref_f"], year["cur_f"], year["seg"], year["lags"],
                            max_stretch=0.02, n_grid=101)
    np.testing.assert_allclose(dvv, ref_dvv, atol=1e-6)
    _report(benchmark, year)


@pytest.mark.benchmark(group="dvv-mwcs")
@pytest.mark.parametrize("threads", thread_counts())
def test_mwcs_delays_c4(benchmark, year, threads) -> None:
    starts = window_starts(year["seg"], FS, 20.0, 10.0)
    benchmark.pedantic(delays, (year["ref_f"], year["cur_f"], starts),
                       kwargs={"fs": FS, "window": 20.0, "freqmin": BAND[0],
                               "freqmax": BAND[1], "smooth_bins": 3, "nfft": 800,
                               "threads": threads},
                       rounds=5, iterations=1, warmup_rounds=1)
    _report(benchmark, year, threads)


@pytest.mark.benchmark(group="dvv-mwcs")
def test_mwcs_delays_numpy(benchmark, year) -> None:
    starts = window_starts(year["seg"], FS, 20.0, 10.0)
    lo, hi = round(BAND[0] * 800 / FS), round(BAND[1] * 800 / FS)
    with threadpool_limits(1):
        dt_np, _, _ = benchmark.pedantic(base.mwcs_delays, (year["ref_f"], year["cur_f"],
                                                            starts[0], 400, 800, lo, hi, 3, FS),
                                         rounds=3, iterations=1, warmup_rounds=1)
    dt_c4, _, _ = delays(year["ref_f"], year["cur_f"], starts, fs=FS, window=20.0,
                         freqmin=BAND[0], freqmax=BAND[1], smooth_bins=3, nfft=800)
    np.testing.assert_allclose(dt_np, dt_c4, atol=1e-5)
    _report(benchmark, year)


def _pair_year_c4(year: dict, method: str, threads: int | None) -> np.ndarray:
    dailies = year["dailies"]
    windows = moving_windows([d.day for d in dailies], 10, 1)
    proc = ProcessingConfig(threads=threads or 0, sampling_rate=FS, freqmin=0.1, freqmax=1.0)
    table, stacks, lags, _counts = moving_stacks(dailies, windows, ["linear"], proc)
    s = DvvConfig(method=method, lag_min=20.0, lag_max=120.0, mwcs_window=20.0,
                  mwcs_step=10.0)
    out = measure(year["reference"], np.transpose(stacks["linear"], (1, 0, 2)), lags,
                  table["distance_km"], s, BAND, threads=threads)
    return out["dvv"]


def _pair_year_numpy(year: dict) -> np.ndarray:
    moving = base.moving_linear(year["days"], np.ones(year["days"].shape[:2], bool), 10, 1)
    ref = bandpass(year["reference"], FS, BAND)
    cur = bandpass(np.transpose(moving, (1, 0, 2)), FS, BAND)
    idx = np.concatenate([np.arange(a, b) for a, b in year["seg"][0]])
    dvv, _ = base.stretching(ref, cur, idx, len(year["lags"]) // 2, 0.02, 101, 1e-7)
    return dvv


@pytest.mark.benchmark(group="dvv-pair-year")
@pytest.mark.parametrize("threads", thread_counts())
def test_pair_year_stretching_c4(benchmark, year, threads) -> None:
    dvv = benchmark.pedantic(_pair_year_c4, (year, "stretching", threads), rounds=3,
                             iterations=1, warmup_rounds=1)
    assert np.isfinite(dvv).all()
    _report(benchmark, year, threads)


@pytest.mark.benchmark(group="dvv-pair-year")
def test_pair_year_stretching_numpy(benchmark, year) -> None:
    with threadpool_limits(1):
        dvv = benchmark.pedantic(_pair_year_numpy, (year,), rounds=3, iterations=1,
                                 warmup_rounds=1)
    np.testing.assert_allclose(dvv, _pair_year_c4(year, "stretching", None), atol=2e-5)
    _report(benchmark, year)
