"""Run NoisePy 0.9.93's own pipeline on a real day and write the small reference file that
tests/test_noisepy_reference.py compares c4 with.

NoisePy 0.9.93 needs Python < 3.11, so this runs in its own environment, e.g.::

    python3.10 -m venv /tmp/noisepy && /tmp/noisepy/bin/pip install noisepy-seis==0.9.93
    /tmp/noisepy/bin/python tests/noisepy/make_reference.py

The day: MSNoise 1.6.5's test data (tests/realdata.py fetches it), YA.UV05, YA.UV06, YA.UV10
HHZ at 100 Hz on 2010-09-01, three pairs 4.0-5.6 km apart. NoisePy reads it from an SCEDC-layout
miniSEED folder (its MiniSeedDataStore) with a CSV channel catalog, preprocesses (demean,
detrend, 5 % taper, 4-corner zero-phase band-pass 0.9·freqmin-1.1·freqmax, FFT resampling to
20 Hz), cuts 1800 s windows every 450 s, drops windows with max|x| > 10 std of the day
(``max_over_std``), whitens (``rma``, 10 bins), correlates (``xcorr``) and stacks the day, all
in its own code (``noisepy.seis.cross_correlate``), with its defaults except ``maxlag`` (30 s)
and the response (not removed: c4 and NoisePy read the same counts).

Written: ``reference_YA_2010244.npz`` beside this script: ``pairs`` (source_receiver ids),
``lags`` (s), ``data`` (float32, pairs x lags), ``params`` (JSON of NoisePy's settings) and
``noisepy_version``. NoisePy labels lags one sample late for even FFT lengths (its lag axis
has nfft - 1 entries for an nfft-sample trace, so a delay of +k samples sits at the label
k + 1); ``lags`` here are the true lags: NoisePy's labels minus one sample.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import realdata  # noqa: E402

MAXLAG = 30.0
OUT = HERE / "reference_YA_2010244.npz"


def main() -> None:
    import noisepy.seis as nps
    import obspy
    from datetimerange import DateTimeRange
    from noisepy.seis import cross_correlate
    from noisepy.seis.io.channelcatalog import CSVChannelCatalog
    from noisepy.seis.io.datatypes import ConfigParameters, RmResp
    from noisepy.seis.io.mseedstore import MiniSeedDataStore
    from noisepy.seis.io.numpystore import NumpyCCStore

    root = realdata.fetch()
    work = Path(tempfile.mkdtemp(prefix="noisepy-ref-"))
    try:
        raw = work / "raw" / "2010" / "2010_244"
        raw.mkdir(parents=True)
        for cid, path in realdata.day_files(root).items():
            net, sta, loc, cha = cid.split(".")
            name = f"{net.ljust(2, '_')}{sta.ljust(5, '_')}{cha}{loc.ljust(3, '_')}2010244.ms"
            shutil.copy(path, raw / name)
        coords = realdata.stations(root)
        lines = ["network,station,channel,latitude,longitude,elevation"]
        for sid, (lat, lon, elev) in coords.items():
            net, sta = sid.split(".")
            lines.append(f"{net},{sta},HHZ,{lat},{lon},{elev}")
        (work / "stations.csv").write_text("\n".join(lines) + "\n")

        start = datetime(2010, 9, 1, tzinfo=timezone.utc)
        end = datetime(2010, 9, 2, tzinfo=timezone.utc)
        params = ConfigParameters(start_date=start, end_date=end, maxlag=int(MAXLAG),
                                  rm_resp=RmResp.NO, ncomp=1, stationxml=False)
        catalog = CSVChannelCatalog(str(work / "stations.csv"))
        store = MiniSeedDataStore(str(work / "raw"), catalog,
                                  date_range=DateTimeRange(start, end))
        cc_store = NumpyCCStore(str(work / "cc"))
        cross_correlate(store, params, cc_store)

        ts = store.get_timespans()[0]
        names, traces = [], []
        for src, rec in sorted(cc_store.get_station_pairs(), key=lambda p: (str(p[0]), str(p[1]))):
            for cc in cc_store.read(ts, src, rec):
                names.append(f"{src.network}.{src.name}.00.{cc.src.name}_"
                             f"{rec.network}.{rec.name}.00.{cc.rec.name}")
                data = np.asarray(cc.data, np.float64)
                traces.append(data.mean(axis=0) if data.ndim == 2 else data)
        if not names:
            raise SystemExit("NoisePy wrote no correlation")
        n = len(traces[0])
        fs = params.sampling_rate
        labels = np.arange(-(n // 2), n // 2 + 1) / fs
        lags = labels - 1 / fs  # NoisePy's labels are one sample late (see the docstring)
        order = np.argsort(names)
        np.savez_compressed(
            OUT, pairs=np.array(names)[order], lags=lags.astype(np.float64),
            data=np.array(traces, np.float32)[order],
            params=json.dumps(json.loads(params.model_dump_json()), sort_keys=True),
            noisepy_version=nps.__version__, obspy_version=obspy.__version__,
        )
        print(f"wrote {OUT}: {len(names)} pairs x {n} lags")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
