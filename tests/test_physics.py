"""Physics: a 2-D diffuse noise field's stacked correlations match Aki's J0 relation.

Four stations (six pairs, 8-26 km apart) record plane waves from 400 azimuths travelling at
3 km/s for 6 h at 20 Hz. With phase-only whitening the expected correlation is the inverse
transform of w²·J0(2πfd/v) over the band (c4.synthetic.theoretical_correlation). Acceptance:
waveform correlation >= 0.8 with theory, both peak lags within 3 samples of the theoretical
peaks, and a line fit of peak lag against distance giving v within 2 %.
"""

from __future__ import annotations

import numpy as np
import pytest
from c4 import kernels, synthetic

FS, V, MAXLAG = 20.0, 3.0, 20.0
COORDS = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 15.0], [24.0, 5.0]])
PAIRS = np.array([(i, j) for i in range(4) for j in range(i + 1, 4)], np.int64)


@pytest.fixture(scope="module")
def correlations() -> tuple[np.ndarray, kernels.Spectra, np.ndarray]:
    field = synthetic.diffuse_field(COORDS, FS, 6 * 3600, V, band=(0.1, 2.5), seed=5)
    sp = kernels.spectra(field, FS, cc_len=200, step=100, maxlag=MAXLAG, freqmin=0.2,
                         freqmax=2.0, freq_norm="phase_only", taper_bins=20)
    cc = kernels.correlate(sp, PAIRS, MAXLAG)
    stacked = kernels.stack(np.ascontiguousarray(cc.data), "linear")
    return stacked, sp, cc.lags


def test_correlations_match_the_diffuse_field_theory(correlations) -> None:
    stacked, sp, lags = correlations
    weights, offset = synthetic.band_weights(FS, sp.nfft, 0.2, 2.0, 20)
    distances = np.hypot(*(COORDS[PAIRS[:, 1]] - COORDS[PAIRS[:, 0]]).T)
    assert len(np.unique(distances.round())) >= 3
    for trace, d in zip(stacked, distances, strict=True):
        theory = synthetic.theoretical_correlation(d, V, FS, sp.nfft, offset, weights, MAXLAG)
        assert np.corrcoef(trace, theory)[0, 1] >= 0.8, d
        measured = np.array(synthetic.peak_lags(trace, lags))
        expected = np.array(synthetic.peak_lags(theory, lags))
        assert np.abs(measured - expected).max() <= 3 / FS + 1e-9, (d, measured, expected)
        assert expected[1] < d / V and expected[0] > -d / V  # peaks pulled inside ±d/v


def test_peak_lag_against_distance_recovers_the_velocity(correlations) -> None:
    stacked, _, lags = correlations
    distances = np.hypot(*(COORDS[PAIRS[:, 1]] - COORDS[PAIRS[:, 0]]).T)
    peaks = np.array([synthetic.peak_lags(t, lags) for t in stacked])
    velocity, _ = synthetic.fit_velocity(distances, (peaks[:, 1] - peaks[:, 0]) / 2)
    assert abs(velocity / V - 1) < 0.02
