"""dv/v methods: stretching and MWCS against independent numpy implementations, known answers
(correlations stretched by known dv/v with noise added), error calibration, lag windows and the
network mean."""

from __future__ import annotations

import numpy as np
import pytest
from c4.dvv import LagWindow, fold, lag_ranges, network_mean, segments
from c4.dvv import mwcs as mwcs_mod
from c4.dvv.config import DvvConfig
from c4.dvv.measure import measure
from c4.dvv.mwcs import mwcs
from c4.dvv.stretching import stretch_cc, stretching, stretching_error
from c4.plot import bandpass

from tests import dvv_reference as ref

FS = 10.0
MAXLAG = 60.0
BAND = (0.1, 1.0)
LAGS = np.arange(-round(MAXLAG * FS), round(MAXLAG * FS) + 1) / FS


class Coda:
    """A decaying band-limited random trace that can be evaluated at any lag (s)."""

    def __init__(self, seed: int, n: int = 200, decay_s: float = 25.0) -> None:
        rng = np.random.default_rng(seed)
        self.f = rng.uniform(*BAND, n)
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.amp = rng.standard_normal(n)
        self.decay = decay_s

    def __call__(self, t: np.ndarray) -> np.ndarray:
        waves = self.amp[:, None] * np.cos(2 * np.pi * self.f[:, None] * t[None, :]
                                           + self.phase[:, None])
        return np.exp(-np.abs(t) / self.decay) * waves.sum(0)


def stretched_set(truth: np.ndarray, noise: float, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(reference (1, lags), current (1, times, lags)): current_k(t) = r(t (1 + truth_k)) plus
    band-limited noise of ``noise`` times the reference's coda rms."""
    coda = Coda(seed)
    reference = coda(LAGS)
    current = np.stack([coda(LAGS * (1 + e)) for e in truth])
    if noise:
        rng = np.random.default_rng(seed + 100)
        n = bandpass(rng.standard_normal(current.shape), FS, BAND)
        rms = np.std(reference[np.abs(LAGS) > 5])
        current = current + noise * rms * n / n.std()
    return (reference[None].astype(np.float32), current[None].astype(np.float32))


def window(branch: str = "both", pairs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    ranges = lag_ranges(LagWindow(lag_min=5.0, lag_length=40.0, branch=branch),
                        np.full(pairs, 10.0), MAXLAG)
    return ranges, segments(ranges, LAGS, branch)


# ------------------------------------------------------------------ against numpy references
def test_stretching_matches_numpy_reference() -> None:
    truth = np.array([-0.013, -0.002, 0.0041, 0.009])
    r, c = stretched_set(truth, noise=0.5, seed=1)
    # Two pairs: the second measures the causal branch only.
    r2 = np.concatenate([r, r[:, ::-1]]).copy()
    c2 = np.concatenate([c, c[:, :, ::-1]]).copy()
    seg = np.concatenate([window("both")[1], window("causal")[1]])
    dvv, cc = stretching(r2, c2, seg, LAGS, max_stretch=0.02, n_grid=41, tolerance=1e-9)
    for p in range(2):
        for t in range(len(truth)):
            e, x = ref.stretching_one(r2[p], c2[p, t], seg[p], 0.02, 41)
            assert dvv[p, t] == pytest.approx(e, abs=2e-7)
            assert cc[p, t] == pytest.approx(x, abs=1e-6)
    trials = np.linspace(-0.02, 0.02, 9)
    table = stretch_cc(r2, c2, seg, LAGS, trials)
    idx = ref.indices_of(seg[1])
    expect = [ref.stretched_cc(r2[1], c2[1, 2], idx, e) for e in trials]
    np.testing.assert_allclose(table[1, 2], expect, atol=1e-6)


def test_mwcs_delays_match_numpy_reference() -> None:
    truth = np.array([-0.006, 0.0, 0.004])
    r, c = stretched_set(truth, noise=0.4, seed=2)
    _, seg = window("both")
    starts = mwcs_mod.window_starts(seg, FS, 10.0, 5.0)
    dt, err, coh = mwcs_mod.delays(r, c, starts, fs=FS, window=10.0, freqmin=0.1, freqmax=1.0,
                                   smooth_bins=3, nfft=200)
    lo, hi = 2, 20  # 0.1 and 1.0 Hz in bins of 10 Hz / 200 = 0.05 Hz
    for t in range(len(truth)):
        for w, s in enumerate(starts[0]):
            e = ref.mwcs_window(r[0], c[0, t], int(s), 100, 200, lo, hi, 3, FS)
            np.testing.assert_allclose([dt[0, t, w], err[0, t, w], coh[0, t, w]], e,
                                       rtol=2e-4, atol=1e-6)


def test_mwcs_regression_matches_least_squares() -> None:
    rng = np.random.default_rng(5)
    centres = np.array([[-40.0, -30.0, -20.0, 20.0, 30.0, 45.0, np.nan]])
    dt = (0.003 * centres[:, None, :] + 0.01 + 0.002 * rng.standard_normal((1, 3, 7)))
    err = np.full(dt.shape, 0.002) * rng.uniform(0.5, 2, dt.shape)
    coh = np.full(dt.shape, 0.9)
    coh[0, 1, 2] = 0.2  # rejected: low coherence
    dt[0, 2, 0] = 5.0  # rejected: above max_dt
    for intercept in (True, False):
        res = mwcs_mod.dvv_from_delays(dt, err, coh, centres, min_coherence=0.5, max_dt=1.0,
                                       intercept=intercept, overlap=2.0)
        for t in range(3):
            keep = np.isfinite(centres[0]) & (coh[0, t] >= 0.5) & (np.abs(dt[0, t]) <= 1.0)
            slope, slope_err, a = ref.wls_line(centres[0][keep], dt[0, t][keep],
                                               err[0, t][keep], intercept, overlap=2.0)
            assert res.dvv[0, t] == pytest.approx(-slope, rel=1e-9)
            assert res.err[0, t] == pytest.approx(slope_err, rel=1e-9)
            assert res.clock_shift[0, t] == pytest.approx(a, abs=1e-12)
            assert res.n_windows[0, t] == keep.sum()


def test_network_mean_matches_explicit_weights() -> None:
    rng = np.random.default_rng(2)
    dvv = rng.normal(0.001, 0.0005, (5, 4))
    err = rng.uniform(1e-4, 1e-3, (5, 4))
    dvv[1, 2] = np.nan
    err[3, 3] = 0.0  # no usable error: left out
    net = network_mean(dvv, err)
    for t in range(4):
        ok = np.isfinite(dvv[:, t]) & (err[:, t] > 0)
        w = 1 / err[ok, t] ** 2
        mean = np.sum(w * dvv[ok, t]) / w.sum()
        chi2 = np.sum(w * (dvv[ok, t] - mean) ** 2) / (ok.sum() - 1)
        assert net.dvv[t] == pytest.approx(mean)
        assert net.err[t] == pytest.approx(np.sqrt(max(1.0, chi2) / w.sum()))
        assert net.n_pairs[t] == ok.sum()
    empty = network_mean(np.full((2, 1), np.nan), np.ones((2, 1)))
    assert np.isnan(empty.dvv[0]) and empty.n_pairs[0] == 0


# ------------------------------------------------------------------ known answers
@pytest.mark.parametrize("branch", ["both", "causal", "acausal", "symmetric"])
def test_stretching_recovers_known_dvv_with_noise(branch: str) -> None:
    truth = np.array([-0.01, -0.004, 0.0, 0.002, 0.006, 0.012])
    r, c = stretched_set(truth, noise=0.3, seed=3)
    lags = LAGS
    if branch == "symmetric":
        r, lags = fold(r, LAGS)
        c, _ = fold(c, LAGS)
    ranges = lag_ranges(LagWindow(lag_min=5.0, lag_length=40.0), np.array([10.0]), MAXLAG)
    seg = segments(ranges, lags, branch)
    dvv, cc = stretching(np.ascontiguousarray(r), np.ascontiguousarray(c), seg, lags)
    err = stretching_error(cc, *BAND, ranges, 2 if branch == "both" else 1)
    assert np.all(cc > 0.9)
    # Within 4 standard errors, and the errors are small (< 0.05 %).
    assert np.all(np.abs(dvv[0] - truth) < 4 * err[0]), (dvv[0] - truth, err[0])
    assert np.all(err < 5e-4)


def test_mwcs_recovers_known_dvv_with_noise() -> None:
    truth = np.array([-0.005, -0.002, 0.0, 0.001, 0.003, 0.005])
    r, c = stretched_set(truth, noise=0.3, seed=4)
    _, seg = window("both")
    res = mwcs(r, c, seg, LAGS, window=10.0, step=5.0, freqmin=0.1, freqmax=1.0)
    assert np.all(res.n_windows >= 10)
    assert np.all(np.abs(res.dvv[0] - truth) < 4 * res.err[0]), (res.dvv[0] - truth, res.err)
    assert np.all(res.err < 6e-4)
    assert np.all(np.abs(res.clock_shift) < 0.05)


def test_mwcs_separates_a_clock_shift_from_dvv() -> None:
    """A constant delay on both branches is a clock error, not a velocity change."""
    coda = Coda(7)
    reference = coda(LAGS)[None].astype(np.float32)
    current = coda(LAGS * 1.003 - 0.08)[None, None].astype(np.float32)  # shift by 0.08 s
    _, seg = window("both")
    res = mwcs(reference, current, seg, LAGS, window=10.0, step=5.0, freqmin=0.1,
               freqmax=1.0)
    assert res.dvv[0, 0] == pytest.approx(0.003, abs=2e-4)
    assert res.clock_shift[0, 0] == pytest.approx(0.08 / 1.003, abs=5e-3)


@pytest.mark.parametrize("method", ["stretching", "mwcs"])
def test_error_estimates_match_the_scatter_of_repeated_measurements(method: str) -> None:
    """Over independent noise realisations the spread of dv/v matches the stated errors
    (the ratio of rms deviation to median error lies within a factor 2)."""
    n = 40
    truth = np.full(n, 0.003)
    coda = Coda(11)
    reference = coda(LAGS)[None].astype(np.float32)
    rng = np.random.default_rng(12)
    noise = bandpass(rng.standard_normal((n, len(LAGS))), FS, BAND)
    rms = np.std(reference[0][np.abs(LAGS) > 5])
    current = (coda(LAGS * 1.003)[None] + 0.5 * rms * noise / noise.std())[None]
    current = current.astype(np.float32)
    ranges, seg = window("both")
    if method == "stretching":
        dvv, cc = stretching(reference, current, seg, LAGS)
        err = stretching_error(cc, *BAND, ranges, 2)
    else:
        res = mwcs(reference, current, seg, LAGS, window=10.0, step=5.0, freqmin=0.1,
                   freqmax=1.0)
        dvv, err = res.dvv, res.err
    spread = np.sqrt(np.mean((dvv[0] - truth) ** 2))
    ratio = spread / np.median(err[0])
    print(method, ratio)
    assert 0.5 < ratio < 2.0, (spread, np.median(err[0]))


@pytest.mark.parametrize("method", ["stretching", "mwcs"])
def test_measure_without_time_steps_gives_empty_results(method: str) -> None:
    """A Batch shard without window centres measures nothing, without an error."""
    r, _ = stretched_set(np.array([0.0]), noise=0)
    out = measure(np.repeat(r, 2, axis=0), np.zeros((2, 0, len(LAGS))), LAGS,
                  np.array([10.0, 20.0]), DvvConfig(method=method), BAND)
    assert out["dvv"].shape == out["dvv_err"].shape == out["cc"].shape == (2, 0)
    assert out["lag_window"].shape == (2, 2)
    if method == "mwcs":
        assert out["clock_shift"].shape == out["n_mwcs_windows"].shape == (2, 0)


# ------------------------------------------------------------------ lag windows
def test_lag_windows_follow_travel_time_and_clip() -> None:
    rule = LagWindow(lag_min=5.0, lag_min_travel_times=2.0, velocity_km_s=3.0,
                     lag_length=20.0)
    ranges = lag_ranges(rule, np.array([0.0, 15.0, 60.0, 90.0]), 40.0)
    np.testing.assert_allclose(ranges[0], [5.0, 25.0])
    np.testing.assert_allclose(ranges[1], [10.0, 30.0])  # 2 x 15 km / 3 km/s
    assert np.isnan(ranges[2]).all() and np.isnan(ranges[3]).all()  # starts at or past maxlag
    lags = np.arange(-400, 401) / 10.0
    seg = segments(ranges, lags, "both")
    assert lags[seg[1, 1, 0]] == 10.0 and lags[seg[1, 1, 1] - 1] == 30.0
    assert lags[seg[1, 0, 0]] == -30.0 and lags[seg[1, 0, 1] - 1] == -10.0
    assert (seg[2] == 0).all()
    causal = segments(ranges, lags, "causal")
    assert (causal[:, 0] == 0).all() and (causal[1, 1] == seg[1, 1]).all()
    with pytest.raises(ValueError, match="branch"):
        LagWindow(branch="left")


def test_fold_averages_the_branches() -> None:
    x = np.arange(7, dtype=np.float32)[None]
    folded, lags = fold(x, np.arange(-3, 4) / 1.0)
    np.testing.assert_array_equal(lags, [0, 1, 2, 3])
    np.testing.assert_array_equal(folded[0], [3, 3, 3, 3])


def test_bad_inputs_name_the_argument() -> None:
    r, c = stretched_set(np.array([0.0]), noise=0)
    _, seg = window()
    with pytest.raises(TypeError, match="current"):
        stretching(r, c.astype(np.float64), seg, LAGS)
    with pytest.raises(ValueError, match="max_stretch"):
        stretching(r, c, seg, LAGS, max_stretch=0.0)
    with pytest.raises(ValueError, match="segments"):
        stretching(r, c, seg[:, :, :1].copy(), LAGS)
    starts = mwcs_mod.window_starts(seg, FS, 10.0, 5.0)
    with pytest.raises(ValueError, match="band"):
        mwcs_mod.delays(r, c, starts, fs=FS, window=10.0, freqmin=4.99, freqmax=5.0)
