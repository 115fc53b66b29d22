"""End to end through a real S3 API (moto server on 127.0.0.1): a public SCEDC-layout archive
read unsigned, `c4 correlate` as a Batch array child (AWS_BATCH_JOB_ARRAY_INDEX=1) processing
exactly the second month, results written to S3 and read back with `c4.open_results`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import c4
import pytest
from c4.products import resolve_product
from c4.store import completed_days, completed_shards, output_location

from tests.pipeline_helpers import assert_physics, run_c4, small_archive, small_config


@pytest.mark.slow
def test_batch_child_one_processes_the_second_month_on_s3(aws_env: str, tmp_path: Path) -> None:
    start = dt.date(2024, 1, 31)  # shard 0: Jan 31; shard 1: Feb 1-2
    arch = small_archive(tmp_path / "archive", days=3, start=start)
    s3 = boto3.client("s3")
    for bucket in ("scedc-test", "c4-out"):
        s3.create_bucket(Bucket=bucket,
                         CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    root = Path(arch["root"])
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        s3.upload_file(str(path), "scedc-test", f"pds/{key}", ExtraArgs={"ACL": "public-read"})
    (tmp_path / "scratch").mkdir()
    local = {**arch, "root": "s3://scedc-test/pds", "stations": "s3://scedc-test/pds/FDSNstationXML"}
    cfg = small_config(local, "s3://c4-out/run1", tmp_path / "scratch",
                       data={"anonymous": True}, stack_methods=["linear", "pws"])
    s3.put_object(Bucket="c4-out", Key="c4.toml", Body=cfg.to_toml().encode())

    res = run_c4("correlate", "--config", "s3://c4-out/c4.toml",
                 env={"AWS_BATCH_JOB_ARRAY_INDEX": "1"})
    assert res.returncode == 0, res.stderr
    assert completed_days("s3://c4-out/run1") == {dt.date(2024, 2, 1), dt.date(2024, 2, 2)}
    assert completed_shards("s3://c4-out/run1") == {1}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="c4-out", Prefix="run1/")["Contents"]]
    assert "run1/shards/2024-02.zarr/c4-product.json" in keys
    store = resolve_product(output_location("s3://c4-out/run1"), "shards/2024-02.zarr")
    assert f"run1/{store}/zarr.json" in keys
    assert not any("2024-01" in k for k in keys)

    ds = c4.open_results("s3://c4-out/run1")
    assert ds.attrs["first_day"] == "2024-02-01" and ds.attrs["last_day"] == "2024-02-02"
    assert ds.sizes["pair"] == 6
    for method in ("linear", "pws"):
        assert_physics(ds, cfg, method)
    assert list(tmp_path.joinpath("scratch").iterdir()) == []  # scratch cleaned
