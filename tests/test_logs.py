"""Logs stay logs: a damaged miniSEED file is one line naming it and what was skipped, every
stderr line of a run is one JSON object, and no credential reaches the log at any verbosity
(``c4 -v`` against a moto server with fake keys and a session token)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from c4.sources import ChannelId, scedc_key

from tests.pipeline_helpers import run_c4, small_archive, small_config, write_config


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 3-station day where one file is its first record followed by 200 kB of garbage."""
    root = tmp_path_factory.mktemp("damaged")
    arch = small_archive(root / "archive", n_stations=3, days=1, day_length_s=3600.0)
    bad = Path(arch["root"]) / scedc_key(ChannelId("SY", "S02", "", "HHZ"), arch["start"])
    head = bad.read_bytes()[:4096]  # the archive's records are 4096 bytes
    garbage = np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    bad.write_bytes(head + garbage)
    return {"arch": arch, "root": root, "bad": bad}


def _check_summary(message: str, path: Path) -> None:
    # 200,000 bytes of garbage: all but what libmseed could not tell from a record start
    m = re.fullmatch(rf"{re.escape(str(path))}: skipped ([\d,]+) of 204,096 bytes that are not "
                     r"miniSEED records; kept 1 segment\(s\), ([\d,]+) samples \(([\d,]+) "
                     r"libmseed warnings, first: .*\)", message)
    assert m is not None, message
    assert 150_000 <= int(m[1].replace(",", "")) <= 200_000
    assert int(m[3].replace(",", "")) > 100  # the warnings it stands for


def test_damaged_file_is_one_json_line_naming_it(damaged: dict[str, Any],
                                                 tmp_path: Path) -> None:
    cfg = small_config(damaged["arch"], tmp_path / "out", tmp_path, stack_methods=["linear"],
                       min_data_fraction=0.0)
    res = run_c4("correlate", "--config", str(write_config(cfg, tmp_path / "c4.toml")),
                 "--index", "0")
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stderr.splitlines()]  # every line is JSON
    about = [r for r in records if str(damaged["bad"]) in json.dumps(r)]
    assert len(about) == 1, about
    assert about[0]["level"] == "warning"
    _check_summary(about[0]["message"], damaged["bad"])


def test_obspy_path_summarises_the_damaged_file_too(damaged: dict[str, Any],
                                                    recwarn: pytest.WarningsRecorder) -> None:
    from c4.preprocess import ChannelTask, preprocess_channel

    task = ChannelTask("SY.S02..HHZ", (str(damaged["bad"]),), "2024-01-01T00:00:00Z", 36000,
                       10.0, 0.0)
    result = preprocess_channel(task)
    about = [msg for _, msg in result.messages if str(damaged["bad"]) in msg]
    assert len(about) == 1, result.messages
    _check_summary(about[0], damaged["bad"])
    assert not [w for w in recwarn if "SEED" in str(w.message)]  # none escaped as warnings


FAKE = {"AWS_ACCESS_KEY_ID": "AKIAC4FAKEKEY0000042",
        "AWS_SECRET_ACCESS_KEY": "c4FakeSecret/Key+0123456789abcdefghijklmnop",
        "AWS_SESSION_TOKEN": "c4FakeSessionToken//////////wEaDXyz0123456789abcdef+/="}


def test_verbose_run_on_s3_prints_no_credentials(aws_env: str, tmp_path: Path) -> None:
    arch = small_archive(tmp_path / "archive", n_stations=3, days=1, day_length_s=3600.0)
    s3 = boto3.client("s3")
    for b in ("c4-redact-src", "c4-redact-out"):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    root = Path(arch["root"])
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        s3.upload_file(str(p), "c4-redact-src", f"pds/{p.relative_to(root).as_posix()}")
    shutil.rmtree(root)
    local = {**arch, "root": "s3://c4-redact-src/pds",
             "stations": "s3://c4-redact-src/pds/FDSNstationXML"}
    (tmp_path / "scratch").mkdir()
    cfg = small_config(local, "s3://c4-redact-out/run", tmp_path / "scratch",
                       stack_methods=["linear"])
    res = run_c4("-v", "correlate", "--config", str(write_config(cfg, tmp_path / "c4.toml")),
                 "--index", "0", env=FAKE)
    assert res.returncode == 0, res.stderr[-3000:]
    text = res.stdout + res.stderr
    assert "<redacted>" in text  # botocore's request logging ran, and was cleaned
    assert "Authorization" in text and "X-Amz-Security-Token" in text.replace(
        "x-amz-security-token", "X-Amz-Security-Token")
    for name, secret in FAKE.items():
        assert secret not in text, name
        assert secret.replace("/", "%2F").replace("+", "%2B") not in text, name
    assert not re.search(r"(?i)signature[=:]\s*[0-9a-f]{64}", text)
    for line in res.stderr.splitlines():  # debug output too is one JSON object per line
        json.loads(line)


def test_exceptions_in_finalizers_are_log_lines(monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """What a half-written zip file raises when collected after an interrupt goes to the log
    (a debug line once stopping), never as a raw traceback on stderr."""
    import gc
    import sys

    from c4 import interrupts
    from c4.failures import log_unraisable

    class Leaky:
        def __del__(self) -> None:
            raise ValueError("cannot close the zip")

    monkeypatch.setattr(sys, "unraisablehook", log_unraisable)
    with caplog.at_level(logging.DEBUG, logger="c4"):
        Leaky()
        gc.collect()
        monkeypatch.setattr(interrupts, "_requested", [15])
        Leaky()
        gc.collect()
    found = [(r.levelno, r.getMessage()) for r in caplog.records if "Leaky" in r.getMessage()]
    text = "exception ignored in test_exceptions_in_finalizers_are_log_lines.<locals>.Leaky." \
           "__del__: ValueError: cannot close the zip"
    assert found == [(logging.WARNING, text), (logging.DEBUG, text)]
