"""Phase cross-correlation (cc_method="pcc", the fast PCC2 of Ventosa et al. 2019) against a
numpy evaluation of Schimmel's (1999) time-domain definition, and the diffuse-field physics."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from c4 import kernels, synthetic

FS = 20.0
PARAMS = {"cc_len": 200.0, "step": 100.0, "maxlag": 10.0, "freqmin": 0.2, "freqmax": 2.0,
          "taper_bins": 20, "freq_norm": "rma", "smoothspect_n": 10}


def phasors(sp: kernels.Spectra, win: int) -> np.ndarray:
    """Unit phasors (channels, windows, win) of the analytic signals of the whitened windows,
    from the band spectra (positive-frequency bins doubled, inverse FFT)."""
    full = np.zeros((*sp.valid.shape, sp.nfft), complex)
    full[..., sp.offset:sp.offset + sp.n_bins] = 2 * sp.data
    a = np.fft.ifft(full, axis=-1)[..., :win]
    return a / np.abs(a)


def test_pcc_matches_schimmel_definition_with_sub_stacks() -> None:
    rng = np.random.default_rng(3)
    n = int(1200 * FS)
    common = rng.standard_normal(n + 40)
    data = np.stack([common[40:] + 0.5 * rng.standard_normal(n),
                     common[:n] + 0.5 * rng.standard_normal(n),
                     rng.standard_normal(n)]).astype(np.float32)
    band = kernels.spectra(data, FS, **PARAMS)
    phase = kernels.spectra(data, FS, phase=True, **PARAMS)
    assert phase.phase and phase.offset == 0 and phase.n_bins == phase.nfft
    pairs = np.array([[0, 1], [1, 0], [0, 2], [1, 1]], np.int64)
    cc = kernels.correlate(phase, pairs, 10.0, cc_method="pcc", substack=4)
    win, m = int(PARAMS["cc_len"] * FS), int(10.0 * FS)
    phi = phasors(band, win)
    n_win = band.valid.shape[1]
    groups = [(w, min(w + 4, n_win)) for w in range(0, n_win, 4)]
    for p, (i, j) in enumerate(pairs):
        for g, (w0, w1) in enumerate(groups):
            want = np.mean([ref.pcc2(phi[i, w], phi[j, w], m) for w in range(w0, w1)], axis=0)
            np.testing.assert_allclose(cc.data[p, g], want, rtol=0, atol=2e-4)
            assert cc.counts[p, g] == w1 - w0
    # An auto-correlation of phasors is 1 at lag 0; the delayed copy peaks at +40 samples
    # (receiver 1 records source 0 two seconds later: a positive lag, source to receiver).
    np.testing.assert_allclose(cc.data[3, :, m], 1.0, atol=1e-5)
    stacked = cc.data[0].mean(axis=0)
    assert int(np.argmax(stacked)) - m == 40
    assert int(np.argmax(cc.data[1].mean(axis=0))) - m == -40


def test_pcc_needs_phase_spectra_and_xcorr_refuses_them() -> None:
    data = np.random.default_rng(0).standard_normal((2, int(600 * FS))).astype(np.float32)
    pairs = np.array([[0, 1]], np.int64)
    with pytest.raises(ValueError, match="phase=True"):
        kernels.correlate(kernels.spectra(data, FS, **PARAMS), pairs, 10.0, cc_method="pcc")
    with pytest.raises(ValueError, match="phase=False"):
        kernels.correlate(kernels.spectra(data, FS, phase=True, **PARAMS), pairs, 10.0)


def test_pcc_of_a_diffuse_field_peaks_where_theory_says() -> None:
    """The physics check of test_physics.py with PCC: both peaks within 3 samples of the
    theoretical correlation's peaks (PCC is amplitude-unbiased but keeps the arrival times)."""
    coords = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 15.0]])
    pairs = np.array([(0, 1), (0, 2), (1, 2)], np.int64)
    v, maxlag = 3.0, 20.0
    field = synthetic.diffuse_field(coords, FS, 4 * 3600, v, band=(0.1, 2.5), seed=5)
    sp = kernels.spectra(field, FS, cc_len=200, step=100, maxlag=maxlag, freqmin=0.2,
                         freqmax=2.0, freq_norm="phase_only", taper_bins=20, phase=True)
    cc = kernels.correlate(sp, pairs, maxlag, cc_method="pcc")
    weights, offset = synthetic.band_weights(FS, sp.nfft, 0.2, 2.0, 20)
    for (i, j), trace in zip(pairs, cc.data[:, 0], strict=True):
        d = float(np.hypot(*(coords[j] - coords[i])))
        theory = synthetic.theoretical_correlation(d, v, FS, sp.nfft, offset, weights, maxlag)
        measured = np.array(synthetic.peak_lags(trace, cc.lags))
        expected = np.array(synthetic.peak_lags(theory, cc.lags))
        assert np.abs(measured - expected).max() <= 3 / FS + 1e-9, (d, measured, expected)
        assert np.corrcoef(trace, theory)[0, 1] > 0.7
