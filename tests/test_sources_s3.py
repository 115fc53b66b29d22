"""NCEDC and SDS archives on S3 (a moto server on 127.0.0.1) and on disk: listings carry S3's
sizes and ETags, downloads are the objects' bytes, and a run on S3 equals the run on disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import c4
import pytest
from c4.config import parse_config
from c4.pipeline import run_shard
from c4.sources import ChannelId, ncedc_key, open_archive, sds_key

from tests.pipeline_helpers import arrays_equal, assert_physics, small_archive, small_config

START = dt.date(2024, 2, 1)


def _upload(root: Path, bucket: str, prefix: str) -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(root).as_posix()}")
    return s3


LAYOUTS = {
    "ncedc": (ncedc_key, "{network}/{network}.{station}.xml"),
    "sds": (sds_key, "{network}/{network}_{station}.xml"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_listing_and_fetch_on_s3(layout: str, aws_env: str, tmp_path: Path) -> None:
    key_of, names = LAYOUTS[layout]
    arch = small_archive(tmp_path / "a", days=2, day_length_s=600.0, start=START, layout=layout,
                         station_file=names)
    bucket = f"{layout}-list"
    s3 = _upload(Path(arch["root"]), bucket, "root")
    data = parse_config({"data": {"source": f"s3://{bucket}/root", "layout": layout,
                                  "channel": ["HH?"], "anonymous": False}}).data
    archive = open_archive(data)
    assert archive.remote
    listing = archive.list_day(START + dt.timedelta(days=1))
    want = [ChannelId("SY", s, "", "HHZ") for s in arch["names"]]
    assert listing.channels == want
    for ch in want:
        (f,) = listing.files[ch]
        assert f.key == key_of(ch, START + dt.timedelta(days=1))
        head = s3.head_object(Bucket=bucket, Key=f"root/{f.key}")
        assert (f.size, f.etag) == (head["ContentLength"], head["ETag"].strip('"'))
    keys = [k for ch in want for k in listing.keys(ch)]
    got = archive.fetch(keys, tmp_path / "scratch")
    assert not got.failed and set(got.local) == set(keys)
    for k in keys:
        assert got.local[k].read_bytes() == (Path(arch["root"]) / k).read_bytes()
    s3.delete_object(Bucket=bucket, Key=f"root/{keys[0]}")  # gone since the listing
    again = archive.fetch(keys, tmp_path / "scratch2")
    assert set(again.failed) == {keys[0]} and len(again.local) == len(keys) - 1
    empty = archive.list_day(START + dt.timedelta(days=9))
    assert empty.files == {} and empty.where.startswith(f"s3://{bucket}/root/")


@pytest.mark.slow
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_run_on_s3_equals_the_run_on_disk(layout: str, aws_env: str, tmp_path: Path) -> None:
    """`run_shard` over the same NCEDC (or SDS) archive, with NCEDC-style StationXML names, once
    from disk and once from a bucket: bit-identical results that match the physics."""
    _, names = LAYOUTS[layout]
    arch = small_archive(tmp_path / "a", days=2, day_length_s=3600.0, start=START,
                         layout=layout, station_file=names)
    bucket = f"{layout}-run"
    _upload(Path(arch["root"]), bucket, "pds")
    (tmp_path / "scratch").mkdir()
    runs = {}
    for where in ("disk", "s3"):
        local = dict(arch)
        if where == "s3":
            local.update(root=f"s3://{bucket}/pds", stations=f"s3://{bucket}/pds/FDSNstationXML")
        cfg = small_config(local, tmp_path / f"out-{where}", tmp_path / "scratch",
                           data={"layout": layout, "stations": ""}, stack_methods=["linear"])
        summary = run_shard(cfg, 0)
        assert summary["days_computed"] == ["2024-02-01", "2024-02-02"]
        runs[where] = c4.open_results(str(tmp_path / f"out-{where}"))
    assert runs["disk"].sizes["pair"] == 6
    assert arrays_equal(runs["disk"], runs["s3"])
    assert_physics(runs["s3"], cfg, "linear")
