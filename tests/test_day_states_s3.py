"""Day states through a real S3 API (moto server on 127.0.0.1) behind a fault-injecting proxy
(tests/fault_proxy.py): an S3 prefix typo, downloads that all answer 403, some that fail for
good and some that fail a few times; each gives its documented state, message and exit code,
and once the faults are gone the next run completes the days, bit for bit equal to a run that
never had them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import c4
import pytest
from c4.days import day_records
from c4.report import store_report
from c4.store import completed_days, completed_shards, output_location, read_daily

from tests.fault_proxy import FaultProxy
from tests.pipeline_helpers import arrays_equal, run_c4, small_archive, small_config, write_config

D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
BUCKET = "c4-days"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> dict[str, Any]:
    """3 stations, 2 days of 1 h uploaded to s3://c4-days/pds; a clean local run of it."""
    root = tmp_path_factory.mktemp("days-s3")
    arch = small_archive(root / "archive", days=2, n_stations=3, day_length_s=3600.0)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-west-2")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    top = Path(arch["root"])
    for path in sorted(p for p in top.rglob("*") if p.is_file()):
        s3.upload_file(str(path), BUCKET, f"pds/{path.relative_to(top).as_posix()}")
    (root / "scratch").mkdir()
    run = run_c4("correlate", "--config",
                 str(write_config(small_config(arch, root / "clean", root / "scratch"),
                                  root / "clean.toml")), "--index", "0")
    assert run.returncode == 0, run.stderr
    return {"root": root, "arch": arch}


@pytest.fixture
def proxy(aws_env: str) -> Iterator[FaultProxy]:
    with FaultProxy(aws_env) as p:
        yield p


def config(archive: dict[str, Any], tmp: Path, out: str, source: str = "pds") -> Path:
    s3 = {**archive["arch"], "root": f"s3://{BUCKET}/{source}",
          "stations": f"s3://{BUCKET}/pds/FDSNstationXML"}
    (tmp / "scratch").mkdir(exist_ok=True)
    return write_config(small_config(s3, f"s3://{BUCKET}/{out}", tmp / "scratch",
                                     data={"download_workers": 2}), tmp / "c4.toml")


def same_as_clean(archive: dict[str, Any], out: str) -> None:
    clean = str(archive["root"] / "clean")
    assert arrays_equal(c4.open_results(out), c4.open_results(clean))
    for d in (D1, D2):
        a, b = read_daily(out, d), read_daily(clean, d)
        assert a.data.tobytes() == b.data.tobytes() and a.counts.tobytes() == b.counts.tobytes()
        assert a.pairs["pair"].tolist() == b.pairs["pair"].tolist()


def test_s3_prefix_typo_is_one_line(archive: dict[str, Any], aws_env: str,
                                    tmp_path: Path) -> None:
    res = run_c4("correlate", "--config", str(config(archive, tmp_path, "typo", "pdz")),
                 "--index", "0")  # nothing below it: caught before any work, exit 2
    assert res.returncode == 2, res.stderr
    assert f"data.source: nothing below s3://{BUCKET}/pdz" in res.stderr

    wrong = config(archive, tmp_path, "deep")  # data.layout that is not the archive's
    res = run_c4("correlate", "--config", str(wrong), "--index", "0", "--set",
                 'data.layout="sds"')
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert (f"shard 2024-01: no files for any of its 2 day(s): listed s3://{BUCKET}/pds/2024/, "
            "expected keys like 2024/<NET>/<STA>/<CHA>.D/<NET>.<STA>.<LOC>.<CHA>.D.2024.001; "
            "check data.source and data.layout") in res.stderr
    assert completed_shards(f"s3://{BUCKET}/deep") == set()


def test_all_downloads_403_fail_the_days_then_a_rerun_completes_them(
        archive: dict[str, Any], proxy: FaultProxy, tmp_path: Path) -> None:
    path = config(archive, tmp_path, "forbidden")
    proxy.always["/pds/continuous_waveforms/"] = "403"
    env = {"AWS_ENDPOINT_URL": proxy.url}
    res = run_c4("correlate", "--config", str(path), "--index", "0", env=env)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    for d in ("2024-01-01", "2024-01-02"):
        assert f"day {d} failed, not marked complete: 3 of 3 files could not be fetched" \
               in res.stderr
    assert "shard 2024-01: 2 of 2 days failed and are not marked complete" in res.stderr
    assert "403" in res.stderr
    out = f"s3://{BUCKET}/forbidden"
    assert completed_days(out) == set() and completed_shards(out) == set()
    records = day_records(output_location(out))
    assert {d: r["state"] for d, r in records.items()} == {D1: "failed", D2: "failed"}
    assert all(c["fetched"] == 0 and c["listed"] == 1
               for c in records[D1]["channels"].values())
    report = store_report(out)
    assert report["days"] == {"complete": 0, "empty": 0, "failed": 2}

    proxy.always.clear()
    res = run_c4("correlate", "--config", str(path), "--index", "0", env=env)
    assert res.returncode == 0, res.stderr
    assert "day 2024-01-01 was failed before; listing it again" in res.stderr
    assert completed_shards(out) == {0} and day_records(output_location(out)) == {}
    same_as_clean(archive, out)


def test_some_downloads_failing_fail_only_their_day(archive: dict[str, Any],
                                                    proxy: FaultProxy, tmp_path: Path) -> None:
    path = config(archive, tmp_path, "some")
    bad = "continuous_waveforms/2024/2024_001/SYS02__HHZ___2024001.ms"
    proxy.always[bad] = "403"
    flaky = "continuous_waveforms/2024/2024_002/SYS01__HHZ___2024002.ms"
    proxy.faults[flaky] = ["503", "drop"]
    env = {"AWS_ENDPOINT_URL": proxy.url}
    res = run_c4("correlate", "--config", str(path), "--index", "0", env=env)
    assert res.returncode == 1, res.stderr
    assert (f"day 2024-01-01 failed, not marked complete: 1 of 3 files could not be fetched, "
            f"e.g. {bad}:") in res.stderr
    assert "shard 2024-01: 1 of 2 days failed" in res.stderr
    assert proxy.hits[flaky] == 2  # retried past a 503 and a dropped connection
    out = f"s3://{BUCKET}/some"
    assert completed_days(out) == {D2} and completed_shards(out) == set()

    proxy.always.clear()
    res = run_c4("correlate", "--config", str(path), "--index", "0", env=env)
    assert res.returncode == 0, res.stderr
    assert "day 2024-01-02 already complete, skipping" in res.stderr
    assert completed_days(out) == {D1, D2} and completed_shards(out) == {0}
    same_as_clean(archive, out)
