"""`kernels.stack_ragged` (pairs of different trace counts in one parallel call) equals
`kernels.stack` of each pair's own traces, bit for bit, for every method."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from c4 import kernels


@pytest.mark.parametrize("method", kernels.STACK_METHODS)
def test_ragged_pairs_equal_their_own_stacks(method: str) -> None:
    rng = np.random.default_rng(5)
    counts = np.array([4, 0, 1, 7, 2, 0, 3])
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_lags = 65
    x = (rng.standard_normal((offsets[-1], n_lags))
         + np.sin(np.arange(n_lags) / 5.0)).astype(np.float32)
    kw = {"tfpws_band": (0.05, 0.3), "selective_threshold": 0.1}
    got, weights = kernels.stack_ragged(x, offsets, method, return_weights=True, threads=2,
                                        **kw)  # type: ignore[misc]
    assert got.shape == (len(counts), n_lags)
    for p, (a, b) in enumerate(itertools.pairwise(offsets)):
        if a == b:
            assert not got[p].any()
            continue
        want, w = kernels.stack(x[None, a:b], method, return_weights=True,
                                **kw)  # type: ignore[misc]
        np.testing.assert_array_equal(got[p], want[0])
        np.testing.assert_array_equal(weights[a:b], w[0])


def test_ragged_offsets_are_checked() -> None:
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"^offsets"):
        kernels.stack_ragged(x, np.array([0, 2, 1], np.int64))
    with pytest.raises(ValueError, match=r"^x"):
        kernels.stack_ragged(x, np.array([0, 2], np.int64))
