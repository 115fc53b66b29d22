"""Throughput of the phase cross-correlation (``cc_method="pcc"``, per pair-day) and of the
tf-PWS stack (per pair-stack) against numpy baselines (benches/baselines_methods.py), at
NoisePy's default sizes (one day at 20 Hz, 1800 s windows every 450 s, maxlag 200 s,
0.05-2 Hz). PCC keeps all nfft bins of each window's phasor spectrum (10x the band's bins),
so its spectra are large: 8 channels (36 pairs with autos) at full size.
"""

from __future__ import annotations

import numpy as np
import pytest
from baselines_methods import pcc_per_pair, tfpws
from c4 import kernels
from conftest import Sizes, thread_counts

PCC_CHANNELS = 8
TFPWS_DAYS = 30


@pytest.fixture(scope="module")
def phase_spectra(sizes: Sizes) -> kernels.Spectra:
    n = round(sizes.day_s * sizes.fs) - 1
    data = np.random.default_rng(1).standard_normal((min(PCC_CHANNELS, sizes.channels_correlate),
                                                     n), np.float32)
    return kernels.spectra(data, sizes.fs, cc_len=sizes.cc_len, step=sizes.step,
                           maxlag=sizes.maxlag, freqmin=sizes.freqmin, freqmax=sizes.freqmax,
                           freq_norm="rma", smoothspect_n=21, phase=True)


@pytest.fixture(scope="module")
def pcc_pairs(phase_spectra: kernels.Spectra) -> np.ndarray:
    n = phase_spectra.valid.shape[0]
    return np.array([(i, j) for i in range(n) for j in range(i, n)], np.int64)


@pytest.mark.benchmark(group="pcc")
@pytest.mark.parametrize("threads", thread_counts())
def test_pcc_c4(benchmark, phase_spectra, pcc_pairs, sizes, threads) -> None:
    cc = benchmark.pedantic(kernels.correlate, (phase_spectra, pcc_pairs, sizes.maxlag),
                            {"cc_method": "pcc", "threads": threads}, rounds=5, iterations=1,
                            warmup_rounds=1)
    benchmark.extra_info.update(pair_days=len(pcc_pairs), threads=threads,
                                bins=phase_spectra.n_bins, windows=cc.counts.max())


@pytest.mark.benchmark(group="pcc")
def test_pcc_numpy(benchmark, phase_spectra, pcc_pairs, sizes) -> None:
    m = round(sizes.maxlag * sizes.fs)
    data = phase_spectra.data
    out = benchmark.pedantic(pcc_per_pair, (data, phase_spectra.valid, pcc_pairs, m),
                             rounds=3, iterations=1, warmup_rounds=1)
    want = kernels.correlate(phase_spectra, pcc_pairs, sizes.maxlag, cc_method="pcc").data[:, 0]
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-3 * np.abs(want).max())
    benchmark.extra_info.update(pair_days=len(pcc_pairs))


@pytest.fixture(scope="module")
def days(sizes: Sizes) -> np.ndarray:
    n_lags = round(2 * sizes.maxlag * sizes.fs) + 1
    n_days = TFPWS_DAYS if sizes.day_s == 86400.0 else 4
    return np.random.default_rng(2).standard_normal((1, n_days, n_lags), np.float32)


def tfpws_band(sizes: Sizes) -> tuple[float, float]:
    return sizes.freqmin / sizes.fs, sizes.freqmax / sizes.fs


@pytest.mark.benchmark(group="tfpws")
@pytest.mark.parametrize("threads", thread_counts())
def test_tfpws_c4(benchmark, days, sizes, threads) -> None:
    out = benchmark.pedantic(kernels.stack, (days, "tfpws"),
                             {"tfpws_band": tfpws_band(sizes), "threads": threads}, rounds=3,
                             iterations=1, warmup_rounds=1)
    assert out.shape == (1, days.shape[2])
    benchmark.extra_info.update(pair_stacks=1, days=days.shape[1], lags=days.shape[2],
                                threads=threads)


@pytest.mark.benchmark(group="tfpws")
def test_tfpws_numpy(benchmark, days, sizes) -> None:
    n = kernels.fast_len(days.shape[2])
    lo, hi = tfpws_band(sizes)
    k0, k1 = max(1, int(np.ceil(lo * n - 1e-4))), int(np.floor(hi * n + 1e-4))
    out = benchmark.pedantic(tfpws, (days[0], 2.0, k0, k1, n), rounds=3, iterations=1,
                             warmup_rounds=1)
    want = kernels.stack(days, "tfpws", tfpws_band=(lo, hi))[0]
    np.testing.assert_allclose(out, want, rtol=0, atol=2e-3 * np.abs(want).max())
    benchmark.extra_info.update(pair_stacks=1, days=days.shape[1], frequencies=k1 - k0 + 1)


@pytest.mark.benchmark(group="whiten")
@pytest.mark.parametrize("threads", thread_counts())
def test_whiten_c4_day_pass(benchmark, sizes, threads) -> None:
    """Whitening with the pipeline's default day pass: window QC on the day band-passed to
    the processing band (one day FFT and one inverse per channel) and NoisePy's
    max_over_std; compare with test_whiten_c4 (no day pass) in benches/test_bench_kernels.py."""
    n = round(sizes.day_s * sizes.fs) - 1
    data = np.random.default_rng(0).standard_normal((sizes.channels_whiten, n), np.float32)
    sp = benchmark.pedantic(
        kernels.spectra, (data, sizes.fs),
        {"cc_len": sizes.cc_len, "step": sizes.step, "maxlag": sizes.maxlag,
         "freqmin": sizes.freqmin, "freqmax": sizes.freqmax, "freq_norm": "rma",
         "smoothspect_n": 21, "qc_band": (sizes.freqmin, sizes.freqmax), "max_std_ratio": 10.0,
         "max_over_std": 10.0, "threads": threads}, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(channel_days=len(data), windows=sp.valid.shape[1],
                                threads=threads)
