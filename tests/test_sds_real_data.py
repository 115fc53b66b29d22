"""`c4 correlate` on real recordings shipped with obspy, laid out as an SDS archive."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import c4
import numpy as np
import obspy
from c4.config import parse_config
from c4.sources import ChannelId, sds_key
from obspy import read

from tests.pipeline_helpers import run_c4

OBSPY = Path(obspy.__file__).parent


def to_sds(root: Path, stream: obspy.Stream) -> None:
    """Write ``stream`` as SDS day files (split at midnight)."""
    for tr in stream:
        t = tr.stats.starttime
        day = dt.date(t.year, t.month, t.day)
        while obspy.UTCDateTime(day) < tr.stats.endtime:
            t0 = obspy.UTCDateTime(day)
            part = tr.slice(t0, t0 + 86400 - tr.stats.delta)
            s = part.stats
            path = root / sds_key(ChannelId(s.network, s.station, s.location, s.channel), day)
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write(str(path), format="MSEED")
            day += dt.timedelta(days=1)


def run(tmp_path: Path, stations_csv: str, data: dict, processing: dict) -> object:
    (tmp_path / "stations.csv").write_text(
        "network,station,latitude,longitude,elevation\n" + stations_csv)
    (tmp_path / "scratch").mkdir()
    cfg = parse_config({
        "data": {"source": str(tmp_path / "sds"), "layout": "sds",
                 "stations": str(tmp_path / "stations.csv"), **data},
        "processing": processing,
        "output": {"output": str(tmp_path / "out"), "scratch": str(tmp_path / "scratch"),
                   "min_free_gb": 0},
    })
    (tmp_path / "c4.toml").write_text(cfg.to_toml())
    res = run_c4("correlate", "--config", str(tmp_path / "c4.toml"), "--index", "0")
    assert res.returncode == 0, res.stderr
    return c4.open_results(str(tmp_path / "out")), res


def test_colocated_sensors_peak_at_zero_lag(tmp_path: Path) -> None:
    """Two sensors side by side (1 h at 200 Hz, resampled to 20 Hz): the correlation peaks at
    lag 0."""
    st = read(str(OBSPY / "signal/tests/data/ref_STS2"))
    st += read(str(OBSPY / "signal/tests/data/ref_unknown"))
    to_sds(tmp_path / "sds", st)
    ds, _ = run(tmp_path, "CA,STS2,46.0,7.0,0\nCA,0438,46.0,7.0,0\n",
                {"channel": ["EH?"], "start": "2011-02-15", "end": "2011-02-15"},
                {"sampling_rate": 20.0, "cc_len": 600.0, "step": 300.0, "freqmin": 0.5,
                 "freqmax": 8.0, "maxlag": 10.0, "time_norm": "one_bit",
                 "min_data_fraction": 0.02, "stack_methods": ["linear"], "workers": 1})
    assert ds.pair.values.tolist() == ["CA.0438..EHZ_CA.STS2..EHZ"]
    trace = ds.linear.values[0]
    assert float(ds.lag[int(np.argmax(trace))]) == 0.0
    assert float(ds.distance_km[0]) == 0.0
    assert int(ds.n_windows[0]) >= 10


def test_a_real_day_across_midnight_with_two_components(tmp_path: Path) -> None:
    """CH.BALST LHE + LHZ (about 24 h at 1 Hz, not aligned to whole seconds, crossing
    midnight): two SDS days, the second almost empty and dropped; auto- and cross-component
    correlations of the first day."""
    st = read(str(OBSPY / "io/mseed/tests/data/CH.BALST..LH_two_channels"))
    to_sds(tmp_path / "sds", st)
    ds, res = run(tmp_path, "CH,BALST,47.33,7.69,863\n",
                  {"channel": ["LH?"], "components": "ZE", "start": "2025-11-10",
                   "end": "2025-11-11"},
                  {"sampling_rate": 1.0, "cc_len": 3600.0, "step": 1800.0, "freqmin": 0.02,
                   "freqmax": 0.2, "maxlag": 100.0, "taper_bins": 10, "autocorr": True,
                   "stack_methods": ["linear", "robust"], "workers": 2})
    assert "dropping CH.BALST..LHE: only 0% of the day has data" in res.stderr
    assert sorted(ds.component.values.tolist()) == ["EE", "EZ", "ZZ"]
    assert ds.attrs["days"] == ["2025-11-10"]
    for pair in ("CH.BALST..LHE_CH.BALST..LHE", "CH.BALST..LHZ_CH.BALST..LHZ"):
        trace = ds.linear.sel(pair=pair).values
        assert float(ds.lag[int(np.argmax(trace))]) == 0.0
    assert np.isfinite(ds.robust.values).all()
