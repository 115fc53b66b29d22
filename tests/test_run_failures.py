"""What a user meets when the surroundings of a run are wrong: each case is one line naming the
key or path and the fix, the documented exit code (2 before any work, 1 when a run fails), and
no traceback unless ``-v``. Real CLI runs in subprocesses, real file systems (a read-only and a
tiny tmpfs where this runs as root), a real moto S3 server."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.pipeline_helpers import run_c4, small_archive, small_config, write_config


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("failures")
    arch = small_archive(root / "archive", n_stations=3, days=2, day_length_s=3600.0)
    scratch = root / "scratch"
    scratch.mkdir()
    cfg = small_config(arch, root / "out", scratch, stack_methods=["linear"])
    return {"arch": arch, "root": root, "cfg": cfg,
            "path": write_config(cfg, root / "c4.toml"), "scratch": scratch}


def errors(res: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The run's error records: stderr is JSON lines (not a terminal), with no traceback."""
    assert "Traceback" not in res.stderr, res.stderr
    records = [json.loads(line) for line in res.stderr.splitlines() if line.strip()]
    return [r for r in records if r["level"] == "error"]


def one_error(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one error record of the run."""
    found = errors(res)
    assert len(found) == 1, res.stderr
    return found[0]


@contextlib.contextmanager
def tmpfs(path: Path, *options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``path`` (root only; skips the test elsewhere)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs",
                           str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_no_shard_index_is_a_usage_error(archive: dict[str, Any]) -> None:
    assert "AWS_BATCH_JOB_ARRAY_INDEX" not in os.environ
    res = run_c4("correlate", "--config", str(archive["path"]))
    assert res.returncode == 2
    assert one_error(res)["message"] == ("no shard index: pass --index or set "
                                         "AWS_BATCH_JOB_ARRAY_INDEX")
    res = run_c4("correlate", "--config", str(archive["path"]),
                 env={"AWS_BATCH_JOB_ARRAY_INDEX": "x"})
    assert res.returncode == 2
    assert "AWS_BATCH_JOB_ARRAY_INDEX='x' is not an integer" in one_error(res)["message"]


def test_read_only_output(archive: dict[str, Any], tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro", "size=1m") as ro:
        res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                     "--output", str(ro / "results"))
    assert res.returncode == 2
    err = one_error(res)
    assert err["message"].startswith(f"output.output: {ro / 'results'} is on a read-only "
                                     "file system; choose a writable output.output")


def test_a_file_where_the_output_folder_should_be(archive: dict[str, Any],
                                                 tmp_path: Path) -> None:
    (tmp_path / "results").write_text("not a folder")
    res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                 "--output", str(tmp_path / "results"))
    assert res.returncode == 2
    assert one_error(res)["message"] == (
        f"output.output: {tmp_path / 'results'} is a file, not a folder; move it away or "
        "choose another output.output")
    res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                 "--output", str(tmp_path / "results" / "inside"))
    assert res.returncode == 2 and "is a file, not a folder" in one_error(res)["message"]


def test_missing_scratch_and_full_scratch(archive: dict[str, Any], tmp_path: Path) -> None:
    res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                 "--output", str(tmp_path / "out"), "--scratch", str(tmp_path / "nope"))
    assert res.returncode == 2
    assert one_error(res)["message"].startswith(f"output.scratch: {tmp_path / 'nope'} does "
                                                "not exist")
    res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                 "--output", str(tmp_path / "out"), "--set", "output.min_free_gb=1e9")
    assert res.returncode == 2
    assert "less than output.min_free_gb = 1000000000.0 GB" in one_error(res)["message"]
    assert not (tmp_path / "out" / "manifest").exists()


def test_scratch_filling_up_mid_run_names_the_path(archive: dict[str, Any],
                                                   tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "size=16k") as tiny:
        res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                     "--output", str(tmp_path / "out"), "--scratch", str(tiny))
        leftovers = list(tiny.iterdir())
    assert res.returncode == 1
    err = one_error(res)
    assert err["message"].startswith(f"no space left on the device writing {tiny}/")
    assert "output.scratch" in err["hint"]
    assert leftovers == []  # the run's folder in scratch is removed


def test_output_filling_up_mid_run_names_the_path(archive: dict[str, Any],
                                                  tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "size=16k") as tiny:
        res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                     "--output", str(tiny / "results"), "--scratch", str(archive["scratch"]))
    assert res.returncode == 1
    err = one_error(res)
    assert err["message"].startswith(f"no space left on the device writing {tiny}/results/")
    assert list(archive["scratch"].iterdir()) == []


def test_missing_source_folder_and_empty_source(archive: dict[str, Any],
                                                tmp_path: Path) -> None:
    res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                 "--output", str(tmp_path / "out"), "--set",
                 f'data.source="{tmp_path / "archiv"}"')
    assert res.returncode == 2
    assert one_error(res)["message"].startswith(f"data.source: {tmp_path / 'archiv'} does not "
                                                "exist (mistyped, or a volume not mounted?)")


def test_verbose_shows_the_traceback(archive: dict[str, Any], tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "size=16k") as tiny:
        res = run_c4("-v", "correlate", "--config", str(archive["path"]), "--index", "0",
                     "--output", str(tmp_path / "out"), "--scratch", str(tiny))
    assert res.returncode == 1
    assert "Traceback" in res.stderr and "No space left on device" in res.stderr


# ------------------------------------------------------------------------------------ S3
@pytest.fixture
def buckets(aws_env: str, archive: dict[str, Any]) -> dict[str, str]:
    """A source bucket holding the archive (private) and an output bucket, fresh names."""
    s3 = boto3.client("s3")
    tag = uuid.uuid4().hex[:8]
    names = {"source": f"src-{tag}", "out": f"out-{tag}"}
    for b in names.values():
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    root = Path(archive["arch"]["root"])
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        s3.upload_file(str(p), names["source"], f"pds/{p.relative_to(root).as_posix()}")
    return names


def s3_config(archive: dict[str, Any], buckets: dict[str, str], tmp_path: Path,
              **data: Any) -> Path:
    local = {**archive["arch"], "root": f"s3://{buckets['source']}/pds",
             "stations": f"s3://{buckets['source']}/pds/FDSNstationXML"}
    cfg = small_config(local, f"s3://{buckets['out']}/run", archive["scratch"],
                       data={"anonymous": False, **data}, stack_methods=["linear"])
    return write_config(cfg, tmp_path / "c4.toml")


def test_missing_output_bucket(archive: dict[str, Any], buckets: dict[str, str],
                               tmp_path: Path) -> None:
    path = s3_config(archive, buckets, tmp_path)
    res = run_c4("correlate", "--config", str(path), "--index", "0",
                 "--output", "s3://no-such-bucket-c4/run")
    assert res.returncode == 2
    assert one_error(res)["message"] == (
        "output.output: bucket no-such-bucket-c4 does not exist; fix the name in "
        "output.output or create it (aws s3 mb s3://no-such-bucket-c4)")


def test_missing_source_bucket_and_mistyped_prefix(archive: dict[str, Any],
                                                   buckets: dict[str, str],
                                                   tmp_path: Path) -> None:
    path = s3_config(archive, buckets, tmp_path)
    res = run_c4("correlate", "--config", str(path), "--index", "0", "--set",
                 'data.source="s3://no-such-source-c4/pds"')
    assert res.returncode == 2
    assert one_error(res)["message"].startswith(
        "data.source: bucket no-such-source-c4 does not exist; fix the name in data.source")
    res = run_c4("correlate", "--config", str(path), "--index", "0", "--set",
                 f'data.source="s3://{buckets["source"]}/pdss"')
    assert res.returncode == 2
    assert one_error(res)["message"] == (
        f"data.source: nothing below s3://{buckets['source']}/pdss (a mistyped prefix?); set "
        "data.source to the archive's root")


def test_missing_credentials_for_a_signed_source(archive: dict[str, Any],
                                                 buckets: dict[str, str],
                                                 tmp_path: Path) -> None:
    path = s3_config(archive, buckets, tmp_path)
    nothing = str(tmp_path / "none")
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
           "AWS_SHARED_CREDENTIALS_FILE": nothing, "AWS_CONFIG_FILE": nothing,
           "AWS_EC2_METADATA_DISABLED": "true"}
    full = {k: v for k, v in os.environ.items() if k not in env}
    full.update({k: v for k, v in env.items() if v})
    res = subprocess.run(
        [*run_c4_argv(), "correlate", "--config", str(path), "--index", "0"],
        capture_output=True, text=True, env=full, timeout=120, check=False)
    assert res.returncode == 2
    messages = [e["message"] for e in errors(res)]
    assert messages == [
        f"output.output: no AWS credentials to access s3://{buckets['out']}/run; set "
        "AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
        f"data.source: no AWS credentials to access s3://{buckets['source']}/pds; set "
        "AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or data.anonymous = true "
        "for a public bucket",
        f"data.stations: no AWS credentials to access s3://{buckets['source']}/pds/"
        "FDSNstationXML; set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or "
        "data.anonymous = true for a public bucket"]


def run_c4_argv() -> list[str]:
    import sys

    return [sys.executable, "-c", "from c4.cli import main; main()"]


def test_no_network_is_one_line_within_seconds(archive: dict[str, Any], buckets: dict[str, str],
                                               tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: connection refused
    path = s3_config(archive, buckets, tmp_path, endpoint_url=f"http://127.0.0.1:{port}")
    t0 = time.perf_counter()
    res = run_c4("correlate", "--config", str(path), "--index", "0")
    assert time.perf_counter() - t0 < 30
    assert res.returncode == 2
    messages = [e["message"] for e in errors(res)]
    assert len(messages) == 3  # output, source, stations: each names its key
    assert messages[0].startswith("output.output: cannot reach the S3 endpoint for s3://")
    assert messages[1].startswith("data.source: cannot reach the S3 endpoint for s3://")


@pytest.mark.skipif(Path("/scratch").is_dir(), reason="this machine has a /scratch")
def test_local_run_without_scratch_uses_a_temp_folder(archive: dict[str, Any],
                                                      tmp_path: Path) -> None:
    res = run_c4("correlate", "--config", str(archive["path"]), "--index", "0",
                 "--output", str(tmp_path / "out"), "--set", 'output.scratch=""',
                 env={"TMPDIR": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stderr.splitlines()]
    assert any(r.get("message") == f"output.scratch: using {tmp_path / 'c4-scratch'} (no "
               "/scratch here; set output.scratch to choose)" for r in records)
    assert list((tmp_path / "c4-scratch").iterdir()) == []
    assert (tmp_path / "out" / "shards" / "2024-01.zarr").is_dir()
