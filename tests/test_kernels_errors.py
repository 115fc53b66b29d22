"""Bad input at the Python boundary: a TypeError or ValueError naming the argument, never a
panic or a silent garbage result."""

from __future__ import annotations

import numpy as np
import pytest
from c4 import kernels

GOOD = np.random.default_rng(0).standard_normal((2, 2000)).astype(np.float32)
OPTS = dict(cc_len=50.0, step=25.0, maxlag=10.0, freqmin=0.2, freqmax=3.0)


def spectra(data: np.ndarray = GOOD, **kw) -> kernels.Spectra:
    return kernels.spectra(data, 10.0, **{**OPTS, **kw})


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (GOOD.astype(np.float64), TypeError, "data: expected dtype float32"),
        (GOOD[:, ::2], TypeError, "data: array must be C-contiguous"),
        (GOOD[0], ValueError, "data: expected 2 dimensions"),
        (np.zeros((2, 0), np.float32), ValueError, "data: array is empty"),
        (np.where(GOOD > 2, np.nan, GOOD).astype(np.float32), ValueError, "data: contains NaN"),
        (GOOD.tolist(), TypeError, "data: expected a numpy array"),
        (GOOD[:, :100].copy(), ValueError, "data: records of 100 samples are shorter"),
    ],
)
def test_bad_data_arrays(data: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        spectra(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"time_norm": "onebit"}, "time_norm: unknown value 'onebit'; allowed values: none, "),
        ({"freq_norm": "white"}, "freq_norm: unknown value 'white'"),
        ({"freqmax": 6.0}, "freqmax: must lie in"),
        ({"freqmin": 0.0}, "freqmin: must lie in"),
        ({"maxlag": 60.0}, "maxlag: 60 s must be shorter than cc_len"),
        ({"cc_len": 50.05}, "cc_len: 50.05 s is not a whole number of samples"),
        ({"smoothspect_n": 0}, "smoothspect_n: must be at least 1"),
        ({"taper_fraction": 0.7}, "taper_fraction: must lie in"),
        ({"max_gap_fraction": 2.0}, "max_gap_fraction: must lie in"),
    ],
)
def test_inconsistent_parameters(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spectra(**kw)


def test_kernel_errors_are_value_errors() -> None:
    assert issubclass(kernels.KernelError, ValueError)


def test_correlate_checks_pairs_and_options() -> None:
    sp = spectra()
    with pytest.raises(TypeError, match="pairs: expected dtype int64"):
        kernels.correlate(sp, np.array([[0, 1]], np.int32), 10.0)
    with pytest.raises(ValueError, match=r"pairs: channel indices must lie in \[0, 2\)"):
        kernels.correlate(sp, np.array([[0, 2]], np.int64), 10.0)
    with pytest.raises(ValueError, match=r"pairs: expected shape \(n_pairs, 2\)"):
        kernels.correlate(sp, np.array([[0, 1, 1]], np.int64), 10.0)
    with pytest.raises(ValueError, match="cc_method: unknown value 'xcor'"):
        kernels.correlate(sp, np.array([[0, 1]], np.int64), 10.0, cc_method="xcor")
    with pytest.raises(ValueError, match="maxlag"):
        kernels.correlate(sp, np.array([[0, 1]], np.int64), 40.0)


def test_stack_checks_method_and_parameters() -> None:
    x = np.ones((1, 3, 5), np.float32)
    with pytest.raises(ValueError, match="stack_method: unknown value 'mean'"):
        kernels.stack(x, "mean")
    with pytest.raises(ValueError, match="nroot_power: must be finite and >= 1"):
        kernels.stack(x, "nroot", nroot_power=0.5)
    with pytest.raises(ValueError, match="robust_epsilon: must be positive"):
        kernels.stack(x, "robust", robust_epsilon=0.0)
    with pytest.raises(ValueError, match="x: contains NaN"):
        kernels.stack(np.full((1, 2, 2), np.inf, np.float32))


def test_accumulator_rejects_a_wrong_shape() -> None:
    acc = kernels.LinearAccumulator(2, 5)
    with pytest.raises(ValueError, match="x: shape"):
        acc.add(np.zeros((3, 5), np.float32))
