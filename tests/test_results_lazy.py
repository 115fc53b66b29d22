"""c4.open_results reads S3 stores in place: one station's pairs of a >= 10 000-pair store cost
a small fraction of its bytes (counted by a proxy in front of moto) and of its memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import c4
import numpy as np
import pytest
from c4.store import make_dataset, output_location, write_dataset, write_shard_entry

from tests.s3proxy import counting_proxy

N_STATIONS = 142  # 10 011 pairs
N_LAGS = 2001  # 100 s at 10 Hz
READER = """
import json, sys, tracemalloc
import c4, xarray, zarr
from c4.objstore import s3_client
s3_client(False, sys.argv[1]).head_bucket(Bucket="lazy")  # botocore's models: not the data
tracemalloc.start()
ds = c4.open_results("s3://lazy/run", endpoint_url=sys.argv[1])
values = c4.select(ds, station="S007").linear.values
print(json.dumps([tracemalloc.get_traced_memory()[1], len(values)]))
"""


def _network_store(seed: int) -> tuple[object, np.ndarray]:
    """A shard-like dataset of all pairs of N_STATIONS stations (ZZ, random traces)."""
    rng = np.random.default_rng(seed)
    ids = [f"XX.S{k:03d}..BHZ" for k in range(N_STATIONS)]
    lon = rng.uniform(-118, -116, N_STATIONS)
    lat = rng.uniform(33, 35, N_STATIONS)
    i, j = np.triu_indices(N_STATIONS, 1)
    pairs = {
        "pair": np.array([f"{ids[a]}_{ids[b]}" for a, b in zip(i, j, strict=True)]),
        "source": np.array([ids[a] for a in i]), "receiver": np.array([ids[b] for b in j]),
        "component": np.full(len(i), "ZZ"),
        "distance_km": np.hypot(lon[i] - lon[j], lat[i] - lat[j]) * 100.0,
        "source_latitude": lat[i], "source_longitude": lon[i],
        "receiver_latitude": lat[j], "receiver_longitude": lon[j],
    }
    data = rng.standard_normal((len(i), N_LAGS)).astype(np.float32)
    lags = (np.arange(N_LAGS) - N_LAGS // 2) / 10.0
    ds = make_dataset({"linear": data}, lags, pairs, {"first_day": "2024-01-01"},
                      extra={"n_days": (("pair",), np.full(len(i), 31))})
    return ds, data


def test_one_station_of_10000_pairs_reads_a_small_fraction(aws_env: str, tmp_path: Path
                                                           ) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lazy", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    loc = output_location("s3://lazy/run")
    ds, data = _network_store(0)
    write_dataset(ds, loc, "shards/2024-01.zarr", tmp_path)
    write_shard_entry(loc, 0, {"shard": 0, "label": "2024-01", "store": "shards/2024-01.zarr"})
    stored = sum(o["Size"] for o in s3.list_objects_v2(Bucket="lazy", Prefix="run/")["Contents"])
    assert stored > 0.9 * data.nbytes  # random traces: the data dominate the store

    with counting_proxy(aws_env) as (proxy, traffic):
        ds = c4.open_results("s3://lazy/run", endpoint_url=proxy)
        assert ds.sizes == {"pair": 10011, "lag": N_LAGS}
        opened = traffic.body_bytes
        one = c4.select(ds, station="S007", component="ZZ")
        values = one.linear.values
        read = traffic.body_bytes
        ranged = [r for r in traffic.requests if r[2]]
        # memory, in a process of its own (moto in this one holds the objects)
        child = subprocess.run([sys.executable, "-c", READER, proxy], capture_output=True,
                               text=True, timeout=120)
        assert child.returncode == 0, child.stderr
        peak, n_pairs = json.loads(child.stdout)
    assert one.sizes["pair"] == N_STATIONS - 1
    pairs = list(ds.pair.values)
    rows = [pairs.index(p) for p in one.pair.values]
    np.testing.assert_array_equal(values, data[rows])
    assert all(("S007" in s) or ("S007" in r) for s, r in zip(
        one.source.values, one.receiver.values, strict=True))
    # opening reads metadata and per-pair coordinates; the selection its chunks (ranged GETs)
    assert opened < 0.05 * stored, (opened, stored)
    assert read < 0.1 * stored, (read, stored)
    assert ranged, "no ranged GET: the store was read whole"
    assert n_pairs == N_STATIONS - 1
    # zarr's sharded reads cost ~15 MB of buffers whatever the store's size; the store is 74 MB
    assert peak < 0.4 * stored, (peak, stored)

    # the same store opened as one .zarr, selected by distance and station
    one_store = c4.open_results("s3://lazy/run/shards/2024-01.zarr")
    assert one_store.linear.dims == ("pair", "lag")
    d = one_store.distance_km.values
    near = c4.select(one_store, distance_km=(0.0, 20.0))
    rows = np.flatnonzero((d >= 0) & (d <= 20))
    assert near.sizes["pair"] == len(rows) > 0
    np.testing.assert_array_equal(near.linear.values, data[rows])
    assert c4.select(one_store, station="XX.S141").sizes["pair"] == N_STATIONS - 1
    assert c4.select(one_store, component="NN").sizes["pair"] == 0
    with pytest.raises(ValueError, match="min exceeds max"):
        c4.select(one_store, distance_km=(5, 1))
