"""Every validation rule of ``c4 submit``: its message, and that nothing reached the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from batch_helpers import invoke, make_account, names_exist, write_config
from c4.batch.config import BatchConfig
from c4.batch.validate import BatchValidationError, check_submit, instance_size

RULES: list[tuple[dict[str, Any], list[str], str]] = [
    # (batch keys, extra CLI args, expected message fragment)
    ({}, ["--months", "10001", "--set", "data.end=2999-12-31"], "AWS Batch allows 2-10000"),
    ({"attempts": 0}, [], "batch.attempts = 0: must be 1-10"),
    ({"attempts": 11}, [], "batch.attempts = 11: must be 1-10"),
    ({"timeout_s": 10}, [], "batch.timeout_s = 10: must be at least 60 s"),
    ({"memory_mib": 300000}, [], "fit none of batch.instance_types"),
    ({"vcpus": 64}, ["--max-vcpus", "512"], "fit none of batch.instance_types"),
    ({"max_vcpus": 16}, [], "RUNNABLE forever"),
    ({"bid_percentage": 150}, [], "batch.bid_percentage = 150: must be 1-100"),
    ({"provisioning": "EC2"}, [], "needs batch.provisioning = 'SPOT'"),
    ({"ami_id": None, "ami_manifest": "does/not/exist.json"}, [], "no AMI"),
    ({"subnets": []}, [], "batch.subnets is empty"),
]


@pytest.mark.parametrize(("keys", "extra", "message"), RULES,
                         ids=[r[2][:30] for r in RULES])
def test_rule_stops_the_submit_before_any_call(
    aws_env: str, tmp_path: Path, keys: dict[str, Any], extra: list[str], message: str
) -> None:
    account = make_account()
    config, suffix = write_config(tmp_path / "c4.toml", account, **keys)
    months = [] if "--months" in extra else ["--months", "12"]
    result = invoke("submit", *months, *extra, "--config", str(config),
                    "--config-url", "s3://cfg-bucket/c4.toml")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "nothing was sent" in result.stderr
    assert "Traceback" not in result.output
    assert names_exist(suffix) == dict.fromkeys(names_exist(suffix), False)
    queues = boto3.client("batch").describe_job_queues()["jobQueues"]
    assert f"c4-q-{suffix}" not in [q["jobQueueName"] for q in queues]


def test_bad_allocation_strategy_is_a_config_error(aws_env: str, tmp_path: Path) -> None:
    config, suffix = write_config(tmp_path / "c4.toml", make_account(),
                                  allocation_strategy="CHEAPEST")
    result = invoke("submit", "--months", "2", "--config", str(config),
                    "--config-url", "s3://cfg-bucket/c4.toml")
    assert result.exit_code == 2
    assert "batch.allocation_strategy" in result.stderr
    assert not any(names_exist(suffix).values())


def test_a_small_max_vcpus_warns_how_many_children_run_at_once(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path / "c4.toml", None, max_vcpus=64)
    result = invoke("submit", "--dry-run", "--months", "12", "--config", str(config),
                    "--config-url", "s3://cfg-bucket/c4.toml")
    assert result.exit_code == 0, result.output
    assert "runs 2 of 12 children at once" in result.stderr


def test_a_local_config_url_cannot_be_submitted(aws_env: str, tmp_path: Path) -> None:
    config, suffix = write_config(tmp_path / "c4.toml", make_account())
    result = invoke("submit", "--months", "2", "--config", str(config))
    assert result.exit_code == 2
    assert "--config-url s3://" in result.stderr
    assert not any(names_exist(suffix).values())


def test_months_outside_the_config_dates_are_refused(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path / "c4.toml", None)
    result = invoke("submit", "--dry-run", "--months", "3", "--start", "2017-11",
                    "--config", str(config))
    assert result.exit_code == 2
    assert "the config covers 12 month(s)" in result.stderr


def test_instance_sizes_from_names_and_table() -> None:
    assert instance_size("r5.8xlarge") == instance_size("r6i.8xlarge")
    r5 = instance_size("r5.8xlarge")
    assert r5 is not None and (r5.vcpus, r5.memory_mib) == (32, 256 * 1024)
    c5 = instance_size("c5.9xlarge")
    assert c5 is not None and (c5.vcpus, c5.memory_mib) == (36, 72 * 1024)
    m5 = instance_size("m5.large")
    assert m5 is not None and (m5.vcpus, m5.memory_mib) == (2, 8 * 1024)
    x1 = instance_size("x1.16xlarge")
    assert x1 is not None and x1.memory_mib == 976 * 1024
    family = instance_size("r6i")
    assert family is not None and family.vcpus == 64
    assert instance_size("p4d.24xlarge") is None


def test_unknown_instance_types_warn_instead_of_failing() -> None:
    cfg = BatchConfig(instance_types=["p4d.24xlarge"], subnets=["s"], security_groups=["g"])
    warnings = check_submit(cfg, size=12, ami="ami-1")
    assert any("cannot check the size" in w for w in warnings)


def test_all_problems_are_reported_together() -> None:
    cfg = BatchConfig(attempts=0, timeout_s=1)
    with pytest.raises(BatchValidationError) as info:
        check_submit(cfg, size=20000, ami=None)
    lines = str(info.value).splitlines()
    assert len(lines) >= 6  # size, attempts, timeout, subnets, security groups, AMI


def test_ami_is_read_from_the_packer_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"builds": [{"artifact_id": "us-east-1:ami-old"}, '
                        '{"artifact_id": "us-east-1:ami-east,us-west-2:ami-west"}]}')
    cfg = BatchConfig(ami_manifest=str(manifest))
    assert cfg.resolve_ami("us-west-2") == "ami-west"
    assert cfg.resolve_ami(None) == "ami-east"
    assert BatchConfig(ami_id="ami-x", ami_manifest=str(manifest)).resolve_ami() == "ami-x"
    manifest.write_text("{}")
    with pytest.raises(ValueError, match="builds"):
        cfg.resolve_ami()


def test_defaults_survive_a_round_trip_through_validation() -> None:
    assert BatchConfig.model_validate(BatchConfig().model_dump()) == BatchConfig()
