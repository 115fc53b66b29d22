"""c4 against NoisePy 0.9.93's own output on a real day (tests/noisepy/make_reference.py made
the committed reference; tests/realdata.py fetches the same raw day).

The day: YA.UV05, YA.UV06, YA.UV10 (Piton de la Fournaise, 4.0-5.6 km apart), HHZ at 100 Hz,
2010-09-01, from MSNoise 1.6.5's wheel. c4 runs end to end (`c4 correlate` on an SCEDC-layout
folder: decode, decimate to 20 Hz, window, QC, whiten, correlate, stack) with NoisePy's
settings. Acceptance: every pair's correlation has Pearson r >= 0.995 with NoisePy's outside
±0.15 s (NoisePy subtracts the mean of the cross-spectrum, which zeroes the zero-lag sample),
and the lag of best alignment is 0.

Parameters with no exact c4 equivalent (documented in docs/methods.md):
- preprocessing: NoisePy band-passes 0.045-2.2 Hz (4 corners, zero phase) and FFT-resamples to
  20 Hz; c4 low-passes at 8 Hz and decimates (the band-pass shape is divided out by whitening);
- FFT length: NoisePy's is the window (36000 samples), c4 pads by maxlag (36864), so the
  10-bin whitening smoother spans 5.6 vs 5.4 mHz;
- NoisePy drops windows whose whitened spectrum peaks above 20x the day's median (none here);
- the QC band: c4 measures max_over_std on a frequency-domain 4-corner Butterworth magnitude
  (qc_band = [0.045, 2.2]), NoisePy on its time-domain band-pass of the day.
"""

from __future__ import annotations

from pathlib import Path

import c4
import numpy as np
import pytest
import realdata
from c4.config import parse_config

from tests.pipeline_helpers import run_c4

REFERENCE = Path(__file__).parent / "noisepy" / "reference_YA_2010244.npz"
NOISEPY_EQUIVALENT = {
    "sampling_rate": 20.0, "cc_len": 1800.0, "step": 450.0, "freqmin": 0.05, "freqmax": 2.0,
    "maxlag": 30.0, "time_norm": "none", "freq_norm": "rma", "smoothspect_n": 10,
    "cc_method": "xcorr", "taper_bins": 100,
    "taper_s": 1.0,  # NoisePy: a 20-sample Hann taper at each end of every window
    "qc_band": [0.045, 2.2],  # NoisePy's pre-filter corners, 0.9 freqmin - 1.1 freqmax
    "max_over_std": 10.0, "max_std_ratio": float("inf"),  # NoisePy's only amplitude QC
    "autocorr": True, "stack_methods": ["linear"], "workers": 2,
}


@pytest.fixture(scope="module")
def c4_day(tmp_path_factory: pytest.TempPathFactory) -> object:
    root = realdata.fetch()
    tmp = tmp_path_factory.mktemp("noisepy")
    archive, stations_csv = realdata.scedc_day(root, tmp)
    (tmp / "scratch").mkdir()
    cfg = parse_config({
        "data": {"source": str(archive), "stations": str(stations_csv),
                 "channel": ["HH?"], "start": "2010-09-01", "end": "2010-09-01"},
        "processing": NOISEPY_EQUIVALENT,
        "output": {"output": str(tmp / "out"), "scratch": str(tmp / "scratch"),
                   "min_free_gb": 0},
    })
    (tmp / "c4.toml").write_text(cfg.to_toml())
    res = run_c4("correlate", "--config", str(tmp / "c4.toml"), "--index", "0")
    assert res.returncode == 0, res.stderr
    return c4.open_results(str(tmp / "out"))


def reference() -> tuple[dict[str, np.ndarray], np.ndarray]:
    z = np.load(REFERENCE)
    assert str(z["noisepy_version"]) == "0.9.93"
    return dict(zip(z["pairs"].tolist(), z["data"], strict=True)), z["lags"]


def c4_trace(ds: object, pair: str) -> np.ndarray:
    """c4's trace for NoisePy's ``pair``: c4 orders each pair's channels by name, so a pair
    NoisePy holds the other way round is c4's trace reversed in lag."""
    src, rcv = pair.split("_")
    names = ds.pair.values.tolist()  # type: ignore[attr-defined]
    if pair in names:
        return ds.linear.sel(pair=pair).values  # type: ignore[attr-defined]
    return ds.linear.sel(pair=f"{rcv}_{src}").values[::-1]  # type: ignore[attr-defined]


def test_reference_lags_are_centred() -> None:
    """The reference's lag axis is NoisePy's corrected by one sample: its auto-correlations
    are symmetric about lag 0 on it."""
    traces, lags = reference()
    zero = int(np.argmin(np.abs(lags)))
    assert lags[zero] == 0.0
    for pair, trace in traces.items():
        src, rcv = pair.split("_")
        if src == rcv:
            w = trace[zero - 300:zero + 301]
            assert np.abs(w - w[::-1]).max() < 1e-5 * np.abs(w).max(), pair


def test_c4_matches_noisepy_on_a_real_day(c4_day: object) -> None:
    traces, lags = reference()
    ds = c4_day
    # Compare on the lags both hold (NoisePy's run -30.05 .. 29.95 s, c4's -30 .. 30 s).
    c4_samples = np.round(ds.lag.values * 20.0).astype(int)  # type: ignore[attr-defined]
    ref_samples = np.round(lags * 20.0).astype(int)
    common, in_c4, in_ref = np.intersect1d(c4_samples, ref_samples, return_indices=True)
    assert len(common) == 1200
    outside = np.abs(common) > 3  # |lag| > 0.15 s
    crosses = [p for p in traces if p.split("_")[0] != p.split("_")[1]]
    assert len(crosses) == 3
    for pair, trace in traces.items():
        got, want = c4_trace(ds, pair)[in_c4], trace[in_ref]
        r = np.corrcoef(got[outside], want[outside])[0, 1]
        assert r >= 0.995, (pair, r)
        # Best alignment within ±10 samples: zero offset.
        shifts = range(-10, 11)
        scores = [np.dot(np.roll(got, k)[outside], want[outside]) for k in shifts]
        assert list(shifts)[int(np.argmax(scores))] == 0, pair
