"""A product is replaced atomically: `c4 stack` SIGKILLed at any point while it replaces a
stack (locally and on a moto S3 server) leaves the old stack or the new one readable, never a
mix; a product without its completion marker is never read."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import c4
import pytest
from c4.products import MARKER, resolve_product
from c4.stacking import stack_results
from c4.store import output_location, product_attrs

from tests.kill_at import record
from tests.pipeline_helpers import arrays_equal, write_config
from tests.stack_helpers import stack_config, write_days

DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=k) for k in range(8)]
KILL_AT = str(Path(__file__).with_name("kill_at.py"))


def _kill(n: int, config: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, KILL_AT, str(n), "stack", "--config", str(config),
                           *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, (n, proc.returncode, proc.stderr[-2000:])


def _open(url: str) -> Any:
    return c4.open_results(url).load()


def _replace_killed_at_several_points(out: str, scratch: Path, tmp_path: Path) -> None:
    cfg = stack_config(out, scratch, stack_methods=["linear", "pws"])
    write_days(cfg, DAYS, 12)
    path = write_config(cfg, tmp_path / "c4.toml")
    url = f"{out}/stacks/all.zarr"
    loc = output_location(out)

    # the first write of a product killed mid-upload: nothing is readable
    with record() as first:
        stack_results(cfg, name="ref", end=DAYS[3])
    uploads = [i + 1 for i, op in enumerate(first) if op in ("put", "copyfile")]
    _kill(uploads[len(uploads) // 2], path, "--name", "all", "--end", DAYS[3].isoformat())
    assert resolve_product(loc, "stacks/all.zarr") is None and product_attrs(url) is None
    with pytest.raises(FileNotFoundError, match=f"no complete product here .no {MARKER}"):
        c4.open_results(url)

    stack_results(cfg, name="all", end=DAYS[3])
    old = _open(url)
    with record() as ops:  # what replacing the 4-day stack by the 8-day one does
        stack_results(cfg, name="all")
    new = _open(url)
    assert old.attrs["days"] == [d.isoformat() for d in DAYS[:4]]
    assert new.attrs["days"] == [d.isoformat() for d in DAYS]
    assert not arrays_equal(old, new)
    marker = ops.index("write_bytes") + 1  # the switch to the new version
    uploads = [i + 1 for i, op in enumerate(ops[:marker - 1]) if op in ("put", "copyfile")]
    assert len(uploads) > 4 and ops[marker:], ops  # many files uploaded, then deletions
    for n in (uploads[0], uploads[len(uploads) // 2], marker, marker + 1):
        stack_results(cfg, name="all", end=DAYS[3])  # the old stack again
        _kill(n, path, "--name", "all")
        got = _open(url)
        want = old if n <= marker else new
        assert arrays_equal(got, want), n
        assert got.attrs["days"] == want.attrs["days"]
        assert (product_attrs(url) or {}).get("days") == want.attrs["days"]
    # the next complete run deletes whatever the killed ones left behind
    stack_results(cfg, name="all")
    assert arrays_equal(_open(url), new)
    store = resolve_product(loc, "stacks/all.zarr")
    assert store is not None
    assert loc.list_dirs("stacks/all.zarr") == [store.rsplit("/", 1)[1]]
    assert loc.list_names("stacks/all.zarr") == [MARKER]


def test_stack_killed_while_replacing_a_local_product(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    _replace_killed_at_several_points(str(tmp_path / "out"), tmp_path / "scratch", tmp_path)


def test_stack_killed_while_replacing_a_product_on_s3(aws_env: str, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(
        Bucket="c4-replace", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    (tmp_path / "scratch").mkdir()
    _replace_killed_at_several_points("s3://c4-replace/out", tmp_path / "scratch", tmp_path)
