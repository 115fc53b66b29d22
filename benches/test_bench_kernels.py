"""Kernel throughput against careful numpy baselines, at NoisePy's default parameters.

Groups:
- ``whiten``: day records → whitened in-band window spectra (channel-days/s);
- ``correlate``: all pairs (autos included) of one day's spectra (pair-days/s), against a
  per-pair numpy reduction and against a BLAS-batched (cgemm) formulation.
The c4 benchmarks take the thread count as a parameter (``C4_BENCH_THREADS``); baselines run on
one thread (scipy.fft ``workers=1``, BLAS limited with threadpoolctl). Every benchmark runs one
unmeasured warm-up round first, so no side pays for first-touching fresh memory.
"""

from __future__ import annotations

import numpy as np
import pytest
from baselines import correlate_blas, correlate_per_pair, whiten_day
from c4 import kernels
from conftest import Sizes, thread_counts
from threadpoolctl import threadpool_limits

SMOOTHSPECT_N = 21


def samples(sizes: Sizes) -> int:
    return round(sizes.day_s * sizes.fs) - 1  # a day record is one sample short of 24 h


@pytest.fixture(scope="module")
def day(sizes: Sizes) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.standard_normal((sizes.channels_correlate, samples(sizes)), np.float32)


def c4_spectra(data: np.ndarray, sizes: Sizes, threads: int | None) -> kernels.Spectra:
    return kernels.spectra(data, sizes.fs, cc_len=sizes.cc_len, step=sizes.step,
                           maxlag=sizes.maxlag, freqmin=sizes.freqmin, freqmax=sizes.freqmax,
                           freq_norm="rma", smoothspect_n=SMOOTHSPECT_N, threads=threads)


@pytest.fixture(scope="module")
def spectra(day: np.ndarray, sizes: Sizes) -> kernels.Spectra:
    return c4_spectra(day, sizes, None)


@pytest.fixture(scope="module")
def pairs(sizes: Sizes) -> np.ndarray:
    n = sizes.channels_correlate
    return np.array([(i, j) for i in range(n) for j in range(i, n)], np.int64)


@pytest.mark.benchmark(group="whiten")
@pytest.mark.parametrize("threads", thread_counts())
def test_whiten_c4(benchmark, day, sizes, threads) -> None:
    data = np.ascontiguousarray(day[: sizes.channels_whiten])
    sp = benchmark.pedantic(c4_spectra, (data, sizes, threads), rounds=5, iterations=1,
                            warmup_rounds=1)
    benchmark.extra_info.update(channel_days=len(data), windows=sp.data.shape[1],
                                bins=sp.data.shape[2], nfft=sp.nfft, threads=threads)


@pytest.mark.benchmark(group="whiten")
def test_whiten_numpy(benchmark, day, sizes, spectra) -> None:
    data = np.ascontiguousarray(day[: sizes.channels_whiten])
    win, hop = round(sizes.cc_len * sizes.fs), round(sizes.step * sizes.fs)
    out, offset = benchmark.pedantic(
        whiten_day, (data, sizes.fs, win, hop, spectra.nfft, sizes.freqmin, sizes.freqmax,
                     SMOOTHSPECT_N), rounds=5, iterations=1, warmup_rounds=1)
    assert offset == spectra.offset
    want = spectra.data[: sizes.channels_whiten]
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-3 * np.abs(want).max())
    benchmark.extra_info.update(channel_days=len(data))


@pytest.mark.benchmark(group="correlate")
@pytest.mark.parametrize("threads", thread_counts())
def test_correlate_c4(benchmark, spectra, pairs, sizes, threads) -> None:
    cc = benchmark.pedantic(kernels.correlate, (spectra, pairs, sizes.maxlag),
                            {"threads": threads}, rounds=5, iterations=1, warmup_rounds=1)
    assert cc.data.shape == (len(pairs), 1, round(2 * sizes.maxlag * sizes.fs) + 1)
    benchmark.extra_info.update(pair_days=len(pairs), threads=threads)


def check_against_c4(out: np.ndarray, spectra, pairs, sizes) -> None:
    m = round(sizes.maxlag * sizes.fs)
    want = kernels.correlate(spectra, pairs[:20], sizes.maxlag).data[:, 0]
    np.testing.assert_allclose(out[:20], want, rtol=0, atol=1e-3 * np.abs(want).max())
    assert out.shape[-1] == 2 * m + 1


@pytest.mark.benchmark(group="correlate")
def test_correlate_numpy_per_pair(benchmark, spectra, pairs, sizes) -> None:
    m = round(sizes.maxlag * sizes.fs)
    out = benchmark.pedantic(correlate_per_pair, (spectra.data, spectra.offset, spectra.nfft,
                                                  pairs, m),
                             rounds=3, iterations=1, warmup_rounds=1)
    check_against_c4(out, spectra, pairs, sizes)
    benchmark.extra_info.update(pair_days=len(pairs))


@pytest.mark.benchmark(group="correlate")
def test_correlate_numpy_blas(benchmark, spectra, pairs, sizes) -> None:
    m = round(sizes.maxlag * sizes.fs)
    with threadpool_limits(1):
        out = benchmark.pedantic(correlate_blas, (spectra.data, spectra.offset, spectra.nfft,
                                                  pairs, m),
                                 rounds=5, iterations=1, warmup_rounds=1)
    check_against_c4(out, spectra, pairs, sizes)
    benchmark.extra_info.update(pair_days=len(pairs))
