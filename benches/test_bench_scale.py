"""Scale rehearsal: one day of a growing network through the real shard code.

One day of white noise (STEIM2 miniSEED day files in SCEDC layout with StationXML, one
vertical channel per station, 20 Hz so no resampling) for 64 channels by default, and for
every size listed in ``C4_BENCH_SCALE`` (e.g. ``C4_BENCH_SCALE=64,128,256,512``), through
:func:`c4.pipeline.run_shard` at NoisePy's defaults (cc_len 1800 s, step 450 s, maxlag 200 s,
0.05-2 Hz), the distance filter off (all pairs), linear + PWS shard stacks, kernels on all
cores. Recorded per size (printed and in the benchmark's ``extra_info``):

- wall time, process CPU time, peak RSS (``VmHWM``), bytes written to the store;
- each stage's share of the wall time and its serial share (:mod:`parallelism`: intervals in
  which at most one thread of the process is working), the whole run's serial share, and the
  same without the shard stack (the day's own stages); the writer thread's busy time (writes
  overlap the next partition's correlation, so stage ``write`` is only the wait for it).

``test_partitions_*`` compares, on the same synthetic spectra of that many channels, the
correlation of all pairs in one kernel call with the pipeline's partitioned loop
(:func:`c4.daywork.correlate_partitions`, 64 partitions, writing disabled; as configured, i.e.
whole partitions grouped into calls of up to ``pair_block`` pairs, and with one partition per
call, as at 1500 channels where a partition fills a call) and with the former partitions by a
CRC-32 of the pair name, interleaved (one round in each order), in ms per pair-day.

In smoke mode (``--benchmark-disable``) one 16-channel, 3-hour day runs once.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from c4 import kernels, pipeline
from c4.config import parse_config
from c4.daywork import correlate_partitions
from c4.pipeline import STAGES, Timings, run_shard
from c4.sources import ChannelId, scedc_key
from c4.store import partition_of
from conftest import Sizes
from obspy import Trace, UTCDateTime
from obspy.core.inventory import Channel, Inventory, Network, Station
from parallelism import peak_rss_bytes, reset_peak_rss, sampled, shares, stage_spans

DAY = dt.date(2024, 1, 1)
PARTITIONS = 64


def _smoke(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("benchmark_disable"))


def scale_sizes() -> list[int]:
    raw = os.environ.get("C4_BENCH_SCALE", "64")
    return [int(v) for v in raw.split(",") if v.strip()]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Station files written once and hard-linked into each size's archive."""
    return tmp_path_factory.mktemp("scale-pool")


def archive_of(pool: Path, n: int, sizes: Sizes) -> Path:
    """An archive of stations 0..n-1 (writing the ones the pool lacks)."""
    root = pool.parent / f"{pool.name}-{n}"
    if root.exists():
        return root
    npts = round(sizes.day_s * sizes.fs)
    for k in range(n):
        sta = f"S{k:03d}"
        key = scedc_key(ChannelId("BN", sta, "", "HHZ"), DAY)
        xml = f"FDSNstationXML/BN/BN_{sta}.xml"
        if not (pool / key).exists():
            rng = np.random.default_rng(k)
            (pool / key).parent.mkdir(parents=True, exist_ok=True)
            data = (rng.standard_normal(npts) * 1000).astype(np.int32)
            Trace(data, header={"network": "BN", "station": sta, "channel": "HHZ",
                                "sampling_rate": sizes.fs,
                                "starttime": UTCDateTime(2024, 1, 1)}
                  ).write(str(pool / key), format="MSEED", encoding="STEIM2")
            lat, lon = 34.0 + 0.02 * (k // 32), -118.0 + 0.02 * (k % 32)
            inv = Inventory(networks=[Network("BN", stations=[Station(
                sta, lat, lon, 0.0, channels=[Channel("HHZ", "", lat, lon, 0.0, 0.0)])])],
                source="bench")
            (pool / xml).parent.mkdir(parents=True, exist_ok=True)
            inv.write(str(pool / xml), format="STATIONXML")
        for rel in (key, xml):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(pool / rel, root / rel)
    return root


def _bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.fixture(params=scale_sizes(), ids=lambda n: f"{n}ch")
def channels(request: pytest.FixtureRequest) -> int:
    return 16 if _smoke(request) else int(request.param)


def test_scale_day(benchmark, request: pytest.FixtureRequest, pool: Path, sizes: Sizes,
                   channels: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if _smoke(request) and request.node.callspec.id != f"{scale_sizes()[0]}ch":
        pytest.skip("smoke mode runs one size")
    benchmark.group = f"scale-{channels}"
    root = archive_of(pool, channels, sizes)
    (tmp_path / "scratch").mkdir()
    cfg = parse_config({
        "data": {"source": str(root), "start": DAY, "end": DAY, "anonymous": False,
                 "day_length_s": sizes.day_s},
        "processing": {"sampling_rate": sizes.fs, "cc_len": sizes.cc_len, "step": sizes.step,
                       "freqmin": sizes.freqmin, "freqmax": sizes.freqmax,
                       "maxlag": sizes.maxlag, "stack_methods": ["linear", "pws"],
                       "max_distance_km": 40000.0},
        "output": {"output": str(tmp_path / "out"), "scratch": str(tmp_path / "scratch"),
                   "min_free_gb": 0, "pair_partitions": PARTITIONS},
    })
    runs: list[dict[str, object]] = []
    writer = {"seconds": 0.0}
    write_day_part = pipeline.write_day_part

    def timed_write(*args: object) -> None:
        t0 = time.perf_counter()
        write_day_part(*args)
        writer["seconds"] += time.perf_counter() - t0

    monkeypatch.setattr(pipeline, "write_day_part", timed_write)

    def one() -> None:
        writer["seconds"] = 0.0
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        reset_peak_rss()
        with stage_spans(monkeypatch) as spans, sampled() as samples:
            cpu0, t0 = time.process_time(), time.perf_counter()
            summary = run_shard(cfg, 0)
            t1, cpu1 = time.perf_counter(), time.process_time()
        runs.append({"summary": summary, "wall": t1 - t0, "cpu": cpu1 - cpu0,
                     "peak": peak_rss_bytes(), "threads": shares(samples, spans, t0, t1)})

    benchmark.pedantic(one, rounds=1, iterations=1)
    run = runs[-1]
    summary: dict = run["summary"]  # type: ignore[assignment]
    assert summary["days_computed"] == [DAY.isoformat()]
    wall = float(run["wall"])  # type: ignore[arg-type]
    n_pairs = channels * (channels - 1) // 2
    threads: dict[str, dict[str, float]] = run["threads"]  # type: ignore[assignment]
    serial = {k: v.get("serial", 0.0) for k, v in threads.items()}
    info: dict[str, object] = {
        "channels": channels, "pairs": n_pairs, "wall_s": round(wall, 2),
        "cpu_s": round(float(run["cpu"]), 2),  # type: ignore[arg-type]
        "peak_rss_gib": round(int(run["peak"]) / 2**30, 2),  # type: ignore[call-overload]
        "bytes_written_gib": round(_bytes_under(tmp_path / "out") / 2**30, 3),
        "ms_per_pair_day_correlate": round(summary["timings"]["correlate"] / n_pairs * 1e3,
                                           4),
        "writer_busy_s": round(writer["seconds"], 2),
        "serial_share": round(sum(serial.values()) / wall, 3),
        "serial_share_without_stack": round(
            sum(v for k, v in serial.items() if k != "stack")
            / (wall - summary["timings"]["stack"]), 3),
        "waiting_share": round(sum(v.get("waiting", 0.0) for v in threads.values()) / wall,
                               3),
        "uptime": os.getloadavg(),
    }
    for k in (*STAGES, "other"):
        seconds = (summary["timings"][k] if k in STAGES else
                   sum(threads.get(k, {}).get(x, 0.0) for x in ("serial", "parallel",
                                                                "waiting")))
        info[f"share_{k}"] = round(seconds / wall, 3)
        info[f"serial_{k}"] = round(serial.get(k, 0.0) / wall, 3)
        info[f"rss_gib_{k}"] = round(threads.get(k, {}).get("rss_max", 0.0) / 2**30, 2)
        info[f"cpu_s_{k}"] = round(threads.get(k, {}).get("cpu", 0.0), 2)
    benchmark.extra_info.update(info)
    print(f"\nscale {channels} channels: {info}")


def _synthetic_spectra(n: int, sizes: Sizes) -> kernels.Spectra:
    """Packed spectra of ``n`` channels at NoisePy's sizes, random values (the kernel's time
    does not depend on them), every window valid."""
    nfft = kernels.fast_len(round((sizes.cc_len + sizes.maxlag) * sizes.fs))
    offset = max(1, int(np.ceil(sizes.freqmin * nfft / sizes.fs)) - 100)
    n_bins = int(np.floor(sizes.freqmax * nfft / sizes.fs)) + 100 - offset + 1
    n_windows = int((sizes.day_s - sizes.cc_len) // sizes.step) + 1
    lanes = kernels._kernels.LANES
    rng = np.random.default_rng(1)
    packed = rng.standard_normal((n, -(-n_bins // lanes), n_windows, 2 * lanes),
                                 dtype=np.float32)
    valid = np.ones((n, n_windows), bool)
    zeros = np.zeros((n, n_windows), np.float32)
    return kernels.Spectra(packed, n_bins, valid, kernels.WindowQc(zeros, zeros, zeros, zeros),
                           offset, nfft, sizes.fs)


def test_partitions_vs_one_call(benchmark, request: pytest.FixtureRequest, sizes: Sizes,
                                channels: int) -> None:
    if _smoke(request) and request.node.callspec.id != f"{scale_sizes()[0]}ch":
        pytest.skip("smoke mode runs one size")
    benchmark.group = f"partitions-{channels}"
    cfg = parse_config({"processing": {"sampling_rate": sizes.fs, "cc_len": sizes.cc_len,
                                       "step": sizes.step, "freqmin": sizes.freqmin,
                                       "freqmax": sizes.freqmax, "maxlag": sizes.maxlag}})
    p = cfg.processing
    spec = _synthetic_spectra(channels, sizes)
    ids = [f"BN.S{k:03d}..HHZ" for k in range(channels)]
    ii, jj = np.triu_indices(channels, k=1)
    pairs = np.ascontiguousarray(np.stack([ii, jj], axis=1).astype(np.int64))
    names = np.char.add(np.char.add(np.array(ids)[ii], "_"), np.array(ids)[jj])
    table = {"pair": names}
    crc = np.array([zlib.crc32(str(n).encode()) % PARTITIONS for n in names])
    written: list[int] = []

    def one_call() -> None:
        kernels.correlate(spec, pairs, p.maxlag, threads=p.threads or None)

    def partitioned() -> None:
        correlate_partitions(DAY, spec, ids, pairs, table, PARTITIONS, p,
                             lambda result, part: written.append(part), Timings())

    biggest = int(np.bincount(partition_of(names, PARTITIONS)).max())
    one_part = p.model_copy(update={"pair_block": biggest})

    def partition_per_call() -> None:
        correlate_partitions(DAY, spec, ids, pairs, table, PARTITIONS, one_part,
                             lambda result, part: written.append(part), Timings())

    def by_pair_hash() -> None:
        for part in range(PARTITIONS):
            rows = np.ascontiguousarray(pairs[crc == part])
            if len(rows):
                kernels.correlate(spec, rows, p.maxlag, threads=p.threads or None)

    arms = {"one_call": one_call, "partitioned": partitioned,
            "partition_per_call": partition_per_call}
    if not _smoke(request):
        arms["pair_hash"] = by_pair_hash
    times: dict[str, list[float]] = {k: [] for k in arms}

    def rounds() -> None:
        for r in range(1 if _smoke(request) else 2):  # forwards, then backwards
            for name, arm in list(arms.items())[::1 if r % 2 == 0 else -1]:
                t0 = time.perf_counter()
                arm()
                times[name].append(time.perf_counter() - t0)

    benchmark.pedantic(rounds, rounds=1, iterations=1)
    assert written
    ms = {k: float(np.median(v)) / len(pairs) * 1e3 for k, v in times.items()}
    info: dict[str, object] = {f"ms_per_pair_day_{k}": round(v, 4) for k, v in ms.items()}
    info["partitioned_over_one_call"] = round(ms["partitioned"] / ms["one_call"], 3)
    info["partition_per_call_over_one_call"] = round(ms["partition_per_call"] / ms["one_call"],
                                                     3)
    if "pair_hash" in ms:
        info["pair_hash_over_one_call"] = round(ms["pair_hash"] / ms["one_call"], 3)
    info["uptime"] = os.getloadavg()
    benchmark.extra_info.update(channels=channels, pairs=len(pairs), **info)
    print(f"\npartitions {channels} channels, {len(pairs)} pairs: {info}")
