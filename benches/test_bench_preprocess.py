"""Raw-rate input end to end: the kernels preprocessing path against the obspy path.

The archive is what SCEDC serves: STEIM2-encoded int32 day files in SCEDC layout with
StationXML, 16 channels of one day at 100 Hz (HH) and at 40 Hz (BH), white-noise counts
(std 1000; the worst case for STEIM2, so decoding is not flattered). With NoisePy's defaults
(20 Hz target, cc_len 1800 s, step 450 s, 0.05-2 Hz, maxlag 200 s):

- ``test_preprocess_*``: one day's channels through :class:`c4.preprocess.Preprocessor`, a new
  one per round as in a shard (so the obspy path pays its process pool's start-up, the kernels
  path its threads'), on all cores; reported in ms per channel-day;
- ``test_pipeline_*``: the whole shard (:func:`c4.pipeline.run_shard`) with
  ``processing.preprocess`` = ``obspy`` (today's path) and ``kernels``, in channel-days/s,
  with the correlation coefficient between the two paths' final stacks.

The terminal summary prints each result as a speed-up over the ``obspy`` run of its group. In
smoke mode (``--benchmark-disable``) the day is 2 hours long and 4 channels.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
from c4.config import parse_config
from c4.pipeline import STAGES, run_shard
from c4.preprocess import ChannelTask, Preprocessor
from c4.sources import ChannelId, scedc_key
from conftest import Sizes
from obspy import Trace, UTCDateTime
from obspy.core.inventory import Channel, Inventory, Network, Station

DAY = dt.date(2024, 1, 1)
RATES = {"100hz": (100.0, "HHZ"), "40hz": (40.0, "BHZ")}
_results: dict[str, dict[str, object]] = {}


def _channels(request: pytest.FixtureRequest) -> int:
    return 4 if request.config.getoption("benchmark_disable") else 16


def _day_s(request: pytest.FixtureRequest, sizes: Sizes) -> float:
    return 7200.0 if request.config.getoption("benchmark_disable") else sizes.day_s


def write_raw_archive(root: Path, n: int, rate: float, channel: str, day_s: float) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for k in range(n):
        sta = f"R{k:03d}"
        path = root / scedc_key(ChannelId("BN", sta, "", channel), DAY)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (rng.standard_normal(round(day_s * rate)) * 1000).astype(np.int32)
        Trace(data, header={"network": "BN", "station": sta, "channel": channel,
                            "sampling_rate": rate, "starttime": UTCDateTime(2024, 1, 1)}
              ).write(str(path), format="MSEED", encoding="STEIM2")
        lat, lon = 34.0 + 0.05 * (k // 4), -118.0 + 0.05 * (k % 4)
        inv = Inventory(networks=[Network("BN", stations=[Station(
            sta, lat, lon, 0.0, channels=[Channel(channel, "", lat, lon, 0.0, 0.0)])])],
            source="bench")
        xml = root / "FDSNstationXML" / "BN" / f"BN_{sta}.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        inv.write(str(xml), format="STATIONXML")
        paths.append(path)
    return paths


@pytest.fixture(scope="module", params=sorted(RATES))
def archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            sizes: Sizes) -> dict[str, object]:
    rate, channel = RATES[request.param]
    root = tmp_path_factory.mktemp(f"raw-{request.param}")
    n, day_s = _channels(request), _day_s(request, sizes)
    paths = write_raw_archive(root, n, rate, channel, day_s)
    return {"name": request.param, "root": root, "paths": paths, "rate": rate,
            "channel": channel, "n": n, "day_s": day_s}


@pytest.mark.parametrize("method", ["obspy", "kernels"])
def test_preprocess(benchmark, archive: dict, sizes: Sizes, method: str) -> None:
    benchmark.group = f"preprocess-{archive['name']}"
    npts = round(archive["day_s"] * sizes.fs)
    tasks = [ChannelTask(f"BN.R{k:03d}..{archive['channel']}", (str(p),),
                         "2024-01-01T00:00:00Z", npts, sizes.fs, 0.5)
             for k, p in enumerate(archive["paths"])]
    out = []

    def one() -> None:
        with Preprocessor(0, method) as pre:
            out.append(pre.day(tasks))

    benchmark.pedantic(one, rounds=3, iterations=1, warmup_rounds=0)
    records = out[-1]
    assert records.data.shape == (archive["n"], npts)
    channel_days = archive["n"] * archive["day_s"] / 86400
    median = benchmark.stats.stats.median if benchmark.stats else float("nan")
    benchmark.extra_info.update(ms_per_channel_day=round(median / channel_days * 1e3, 1),
                                channels=archive["n"], rate_hz=archive["rate"])


@pytest.mark.parametrize("method", ["obspy", "kernels"])
def test_pipeline(benchmark, archive: dict, sizes: Sizes, method: str, tmp_path: Path) -> None:
    benchmark.group = f"pipeline-{archive['name']}"
    (tmp_path / "scratch").mkdir()
    cfg = parse_config({
        "data": {"source": str(archive["root"]), "start": DAY, "end": DAY, "anonymous": False,
                 "day_length_s": archive["day_s"], "channel": [archive["channel"]]},
        "processing": {"sampling_rate": sizes.fs, "cc_len": sizes.cc_len, "step": sizes.step,
                       "freqmin": sizes.freqmin, "freqmax": sizes.freqmax,
                       "maxlag": sizes.maxlag, "stack_methods": ["linear", "pws"],
                       "preprocess": method},
        "output": {"output": str(tmp_path / "out"), "scratch": str(tmp_path / "scratch"),
                   "min_free_gb": 0},
    })
    summaries = []

    def one() -> None:
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        summaries.append(run_shard(cfg, 0))

    benchmark.pedantic(one, rounds=2, iterations=1, warmup_rounds=0)
    summary = summaries[-1]
    assert summary["days_computed"] == [DAY.isoformat()]
    import c4

    linear = c4.open_results(str(tmp_path / "out" / summary["store"]))["linear"].values
    total = summary["seconds"]
    channel_days = archive["n"] * archive["day_s"] / 86400
    info: dict[str, object] = {
        "channel_days_per_s": round(channel_days / total, 3), "seconds": total,
        **{f"share_{k}": round(summary["timings"][k] / total, 3) for k in STAGES}}
    _results.setdefault(archive["name"], {})[method] = linear
    ref = _results[archive["name"]].get("obspy")
    if method == "kernels" and ref is not None:
        r = np.asarray(ref)
        ccs = [np.corrcoef(a, b)[0, 1] for a, b in zip(r, linear, strict=True)]
        info["min_cc_vs_obspy"] = round(float(min(ccs)), 6)
        assert min(ccs) >= 0.999
    benchmark.extra_info.update(info)
    print(f"\npipeline {archive['name']} {method}: {archive['n']} channels x "
          f"{archive['day_s'] / 3600:.0f} h: {total:.2f} s, {channel_days / total:.2f} "
          f"channel-days/s; {info}")
