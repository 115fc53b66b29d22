"""End-to-end throughput of `c4 correlate` on one synthetic day: 32 channels at 20 Hz.

The archive is a local SCEDC-layout folder of miniSEED day files (white noise: throughput
does not depend on the content) with StationXML; the run is the real shard code
(:func:`c4.pipeline.run_shard`) with NoisePy's default windows (cc_len 1800 s, step 450 s,
maxlag 200 s, 0.05-2 Hz) and the linear + PWS stacks. Reported: channel-days/s and the share
of wall time per stage (fetch / preprocess / spectra / correlate / write / stack) from the
shard's own timings. In smoke mode the day is 3 hours long.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
from c4.config import parse_config
from c4.pipeline import STAGES, run_shard
from c4.sources import ChannelId, scedc_key
from conftest import Sizes
from obspy import Trace, UTCDateTime
from obspy.core.inventory import Channel, Inventory, Network, Station

DAY = dt.date(2024, 1, 1)
N_STATIONS = 32


def write_archive(root: Path, sizes: Sizes) -> None:
    rng = np.random.default_rng(0)
    n = round(sizes.day_s * sizes.fs)
    for k in range(N_STATIONS):
        sta = f"B{k:03d}"
        ch = ChannelId("BN", sta, "", "HHZ")
        path = root / scedc_key(ch, DAY)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (rng.standard_normal(n) * 1000).astype(np.int32)
        Trace(data, header={"network": "BN", "station": sta, "channel": "HHZ",
                            "sampling_rate": sizes.fs, "starttime": UTCDateTime(2024, 1, 1)}
              ).write(str(path), format="MSEED", encoding="STEIM2")
        lat, lon = 34.0 + 0.05 * (k // 8), -118.0 + 0.05 * (k % 8)
        inv = Inventory(networks=[Network("BN", stations=[Station(
            sta, lat, lon, 0.0, channels=[Channel("HHZ", "", lat, lon, 0.0, 0.0)])])],
            source="bench")
        xml = root / "FDSNstationXML" / "BN" / f"BN_{sta}.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        inv.write(str(xml), format="STATIONXML")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, sizes: Sizes) -> Path:
    root = tmp_path_factory.mktemp("bench-archive")
    write_archive(root, sizes)
    return root


def test_pipeline_one_day_32_channels(benchmark, archive: Path, sizes: Sizes,
                                      tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    cfg = parse_config({
        "data": {"source": str(archive), "start": DAY, "end": DAY, "anonymous": False,
                 "day_length_s": sizes.day_s},
        "processing": {"sampling_rate": sizes.fs, "cc_len": sizes.cc_len, "step": sizes.step,
                       "freqmin": sizes.freqmin, "freqmax": sizes.freqmax,
                       "maxlag": sizes.maxlag, "stack_methods": ["linear", "pws"]},
        "output": {"output": str(tmp_path / "out"), "scratch": str(tmp_path / "scratch"),
                   "min_free_gb": 0},
    })
    summaries = []

    def one() -> None:
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        summaries.append(run_shard(cfg, 0))

    benchmark.pedantic(one, rounds=1, iterations=1)
    summary = summaries[-1]
    assert summary["days_computed"] == [DAY.isoformat()]
    total = summary["seconds"]
    channel_days = N_STATIONS * sizes.day_s / 86400
    shares = {k: summary["timings"][k] / total for k in STAGES}
    benchmark.extra_info.update(
        channel_days_per_s=round(channel_days / total, 3), seconds=total,
        **{f"share_{k}": round(v, 3) for k, v in shares.items()})
    print(f"\npipeline: {N_STATIONS} channels x {sizes.day_s / 3600:.0f} h at {sizes.fs} Hz: "
          f"{total:.2f} s, {channel_days / total:.2f} channel-days/s; shares "
          + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
