"""Bytes and write speed of the kept daily correlations, per Zarr codec, on real correlations.

The traces: one real day (2010-09-01, YA.UV05/UV06/UV10 HHZ at 100 Hz, MSNoise's test data,
fetched by ``tests/realdata.py``) correlated by ``c4 correlate`` at NoisePy's defaults (20 Hz,
cc_len 1800 s, step 450 s, 0.05-2 Hz, maxlag 200 s: 8001 lags) with ``substack = 1``, so every
window's correlation of the 6 pairs (autos included) is one trace: 6 x 188 noisy float32
traces, the hardest case for a compressor (a day's stack is smoother). Each codec writes them
as the kept-daily layout (:func:`c4.store.zarr_encoding`: one inner chunk per pair holding all
its steps, inside one shard). The baseline is today's daily file: ``np.savez`` of the same
array. ``extra_info`` holds the bytes written and their ratio to the raw float32 bytes, and
the largest error (float16: relative to each pair's peak). In smoke mode the same code runs
once.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from c4.config import parse_config
from c4.pipeline import run_shard
from c4.results import open_store
from c4.store import output_location

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
import realdata

CODECS = ("none", "zstd0", "zstd9", "blosc-zstd5-shuffle", "blosc-lz4-bitshuffle",
          "float16-zstd0", "float16-blosc-lz4-bitshuffle")


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """(pairs, windows, lags) float32 correlations of the real day."""
    root = realdata.fetch()
    tmp = tmp_path_factory.mktemp("store-bench")
    archive, stations_csv = realdata.scedc_day(root, tmp)
    (tmp / "scratch").mkdir()
    cfg = parse_config({
        "data": {"source": str(archive), "stations": str(stations_csv),
                 "channel": ["HH?"], "start": "2010-09-01", "end": "2010-09-01"},
        "processing": {"sampling_rate": 20.0, "cc_len": 1800.0, "step": 450.0,
                       "freqmin": 0.05, "freqmax": 2.0, "maxlag": 200.0, "substack": 1,
                       "autocorr": True, "stack_methods": ["linear"], "workers": 2},
        "output": {"output": str(tmp / "out"), "scratch": str(tmp / "scratch"),
                   "min_free_gb": 0},
    })
    run_shard(cfg, 0)
    kept = open_store(output_location(str(tmp / "out")), "daily/2010-09.zarr")
    data = np.asarray(kept["correlation"].values, np.float32).transpose(1, 0, 2)
    assert data.shape[2] == 8001 and np.isfinite(data).all()
    return np.ascontiguousarray(data)


def _write(data: np.ndarray, codec: str, path: Path) -> None:
    import zarr
    from zarr.codecs import BloscCodec, ZstdCodec

    shutil.rmtree(path, ignore_errors=True)
    compressors: Any = {
        "none": None, "zstd0": ZstdCodec(level=0), "zstd9": ZstdCodec(level=9),
        "blosc-zstd5-shuffle": BloscCodec(cname="zstd", clevel=5, shuffle="shuffle"),
        "blosc-lz4-bitshuffle": BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle"),
        "float16-zstd0": ZstdCodec(level=0),
        "float16-blosc-lz4-bitshuffle": BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle"),
    }[codec]
    values: np.ndarray = data
    if codec.startswith("float16"):
        peak = np.abs(data).max(axis=(1, 2), keepdims=True)
        values = (data / np.where(peak > 0, peak, 1)).astype(np.float16)
    arr = zarr.create_array(path, shape=values.shape, dtype=values.dtype,
                            chunks=(1, *values.shape[1:]), shards=values.shape,
                            compressors=compressors, zarr_format=3)
    arr[:] = values


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.mark.benchmark(group="store-write")
def test_store_write_numpy_npz(benchmark: Any, traces: np.ndarray) -> None:
    def run() -> int:
        buf = io.BytesIO()
        np.savez(buf, data=traces)
        return len(buf.getvalue())

    n = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    benchmark.extra_info.update(bytes=n, ratio=round(n / traces.nbytes, 3))


@pytest.mark.benchmark(group="store-write")
@pytest.mark.parametrize("codec", CODECS)
def test_store_write_zarr(benchmark: Any, traces: np.ndarray, codec: str, tmp_path: Path
                          ) -> None:
    import zarr

    path = tmp_path / "kept.zarr"
    benchmark.pedantic(_write, args=(traces, codec, path), rounds=3, warmup_rounds=1)
    back = np.asarray(zarr.open_array(path)[:], np.float32)
    if codec.startswith("float16"):
        peak = np.abs(traces).max(axis=(1, 2), keepdims=True)
        err = float((np.abs(back * peak - traces) / peak).max())
        assert err <= 2.0**-11
    else:
        err = float(np.abs(back - traces).max())
        assert err == 0.0  # lossless
    n = _size(path)
    benchmark.extra_info.update(bytes=n, ratio=round(n / traces.nbytes, 3), max_error=err)
