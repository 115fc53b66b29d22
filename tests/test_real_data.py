"""Real data shipped with obspy: two co-located sensors (ref_STS2 and ref_unknown, 1 h at
200 Hz, same start). Decimated to 20 Hz as a noise study would, their one-bit, whitened
correlation in the 0.2-2 Hz microseism band must peak at zero lag and be almost perfectly
coherent. (At 200 Hz and above 5 Hz the two instruments' phase responses differ by ~2 samples,
so the test stays in the band where both record ground motion alike.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import obspy
from c4 import kernels

DATA = Path(obspy.__file__).parent / "signal" / "tests" / "data"


def test_colocated_sensors_peak_at_zero_lag() -> None:
    stream = obspy.Stream([obspy.read(str(DATA / n))[0] for n in ("ref_STS2", "ref_unknown")])
    assert stream[0].stats.starttime == stream[1].stats.starttime
    stream.detrend("demean")
    stream.decimate(10)  # 200 Hz -> 20 Hz with obspy's anti-alias filter
    fs = stream[0].stats.sampling_rate
    n = min(len(t.data) for t in stream)
    data = np.stack([t.data[:n] for t in stream]).astype(np.float32)
    sp = kernels.spectra(data, fs, cc_len=120.0, step=60.0, maxlag=5.0, freqmin=0.2,
                         freqmax=2.0, time_norm="one_bit", freq_norm="rma", smoothspect_n=21,
                         taper_bins=50)
    cc = kernels.correlate(sp, np.array([[0, 1], [0, 0], [1, 1]], np.int64), 5.0)
    cross, auto0, auto1 = cc.data[:, 0]
    assert cc.counts[0, 0] == sp.data.shape[1] == 59
    assert cc.lags[np.argmax(cross)] == 0.0
    coherence = cross.max() / np.sqrt(auto0.max() * auto1.max())
    assert coherence > 0.85
