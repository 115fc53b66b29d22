"""Every validation rule of ``c4 submit``: its message, and that nothing reached the server;
plus the rules only a real submit needs (S3 paths, image, roles) and the AMI's fit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from batch_helpers import invoke, make_account, names_exist, write_config
from c4.batch.ami import AmiChoice, ami_problems, architecture_of, resolve_ami
from c4.batch.config import DEFAULT_INSTANCE_FAMILIES, BatchConfig
from c4.batch.validate import check_real_submit, check_submit, instance_size
from c4.config import Config, load_config

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
    ({"subnets": ["my-subnet"]}, [], "is not a subnet id"),
    ({"image": "c4:latest"}, [], "has no registry host"),
    ({"job_role_arn": None}, [], "batch.job_role_arn is unset"),
    ({"instance_role": "arn:aws:iam::123456789012:role/ecsInstanceRole"}, [],
     "is not an instance profile"),
    ({}, ["--set", 'output.output="c4-results"'], "output.output = 'c4-results' is not s3://"),
    ({}, ["--set", 'data.source="/data/archive"'], "data.source = '/data/archive' is not s3://"),
    ({}, ["--set", 'data.stations="stations.csv"'], "data.stations = 'stations.csv' is not"),
    ({}, ["--set", 'output.scratch="/tmp/c4"'], "outside the scratch volume"),
    ({"update_job_timeout_minutes": 400}, [], "must be 1-360"),
    ({"image_type": "ECS_AL2"}, [], "expects al2"),  # the account's AMI is al2023
    ({"instance_types": ["r7g.8xlarge"]}, [], "is x86_64 but batch.instance_types has r7g"),
    ({"timeout_s": None}, [], "batch.timeout_s is unset and the station count is unknown"),
    ({"image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/not-pushed:1"}, [],
     "RepositoryNotFound in ECR"),
    ({"ami_id": "ami-0123456789abcdef0"}, [], "does not exist in us-west-2"),
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
    assert result.stderr.count(message) == 1  # one line per problem
    assert "Traceback" not in result.output
    assert names_exist(suffix) == dict.fromkeys(names_exist(suffix), False)
    queues = boto3.client("batch").describe_job_queues()["jobQueues"]
    assert f"c4-q-{suffix}" not in [q["jobQueueName"] for q in queues]


def test_bad_allocation_strategy_is_a_config_error(aws_env: str, tmp_path: Path) -> None:
    # moto accepts any allocationStrategy string; c4's config does not.
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


def test_best_fit_is_not_offered(tmp_path: Path) -> None:
    # CreateComputeEnvironment: BEST_FIT needs spotIamFleetRole (which c4 does not manage), and
    # BEST_FIT environments take no infrastructure updates; it is not an allowed value.
    config, _ = write_config(tmp_path / "c4.toml", None, allocation_strategy="BEST_FIT")
    result = invoke("submit", "--dry-run", "--months", "2", "--config", str(config))
    assert result.exit_code == 2
    assert "batch.allocation_strategy" in result.stderr and "BEST_FIT_PROGRESSIVE" in (
        result.stderr)


def test_real_submit_refusals_are_one_line_each() -> None:
    config = Config()  # every default: nothing an AWS run can use
    problems = check_real_submit(config, "c4.toml")
    joined = "\n".join(problems)
    assert len(problems) == 4, problems  # image, job role, config URL, output
    for fragment in ("batch.image is unset", "batch.job_role_arn is unset",
                     "not an s3:// URL", "output.output = 'c4-results'"):
        assert fragment in joined
    good = load_config(None, [
        'batch.image="123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:1"',
        'batch.job_role_arn="arn:aws:iam::123456789012:role/c4-job"',
        'output.output="s3://bucket/run"'])
    assert check_real_submit(good, "s3://bucket/c4.toml") == []


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
    cfg = BatchConfig(instance_types=["p4d.24xlarge"], subnets=["subnet-1"],
                      security_groups=["sg-1"])
    checks = check_submit(cfg, size=12, ami="ami-1")
    assert checks.errors == []
    assert any("cannot check the size" in w for w in checks.warnings)


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path / "c4.toml", None, attempts=0, timeout_s=1,
                             subnets=[], security_groups=[])
    result = invoke("submit", "--dry-run", "--months", "12", "--config", str(config),
                    "--config-url", "s3://cfg/c4.toml")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 4, problems  # attempts, timeout, subnets, security groups


def test_ami_is_read_from_the_packer_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"builds": [{"artifact_id": "us-east-1:ami-old"}, '
                        '{"artifact_id": "us-east-1:ami-east,us-west-2:ami-west", '
                        '"custom_data": {"architecture": "arm64", "ami_family": "al2"}}]}')
    cfg = BatchConfig(ami_manifest=str(manifest))
    west = resolve_ami(cfg, "us-west-2")
    assert (west.ami_id, west.region, west.architecture, west.family) == (
        "ami-west", "us-west-2", "arm64", "al2")
    assert resolve_ami(cfg, None).ami_id == "ami-east"
    assert resolve_ami(cfg, None).region == "us-east-1"
    assert resolve_ami(BatchConfig(ami_id="ami-x", ami_manifest=str(manifest))).ami_id == "ami-x"
    manifest.write_text("{}")
    with pytest.raises(ValueError, match="builds"):
        resolve_ami(cfg)


def test_the_manifest_ami_must_match_region_architecture_and_family(tmp_path: Path) -> None:
    # AMIs are regional (EC2 "Copy an AMI"); an arm64 AMI cannot boot x86_64 types; imageType
    # must name the AMI's family (Batch API reference, Ec2Configuration).
    cfg = BatchConfig()  # x86_64 r-families, ECS_AL2023
    good = AmiChoice("ami-1", "manifest", "us-west-2", "x86_64", "al2023")
    assert ami_problems(cfg, good, "us-west-2") == []
    assert "built in us-east-1" in ami_problems(
        cfg, AmiChoice("ami-1", "m", "us-east-1", "x86_64", "al2023"), "us-west-2")[0]
    assert "is arm64" in ami_problems(
        cfg, AmiChoice("ami-1", "m", "us-west-2", "arm64", "al2023"), "us-west-2")[0]
    assert "expects al2023" in ami_problems(
        cfg, AmiChoice("ami-1", "m", "us-west-2", "x86_64", "al2"), "us-west-2")[0]
    graviton = BatchConfig(instance_types=["r7g", "r8g.8xlarge"])
    assert ami_problems(graviton, AmiChoice("a", "m", None, "arm64", None), None) == []


def test_default_families_fit_the_default_job_per_aws_instance_data() -> None:
    # Independent reference: moto's copy of EC2 DescribeInstanceTypes (vCPUs, memory,
    # architectures, per instance type) against c4's name rules.
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    cfg = BatchConfig()
    assert list(cfg.instance_types) == list(DEFAULT_INSTANCE_FAMILIES)
    assert len(DEFAULT_INSTANCE_FAMILIES) >= 8  # many Spot pools
    for family in DEFAULT_INSTANCE_FAMILIES:
        eight = INSTANCE_TYPES[f"{family}.8xlarge"]
        assert eight["VCpuInfo"]["DefaultVCpus"] == 32, family
        mib = eight["MemoryInfo"]["SizeInMiB"]
        assert mib * 0.94 >= cfg.memory_mib, family  # the default child fits its 8xlarge
        assert eight["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"], family
        size = instance_size(f"{family}.8xlarge")
        assert size is not None and size.memory_mib == mib and size.vcpus == 32, family
        assert architecture_of(family) == "x86_64"
    for graviton in ("r7g", "c6gn", "m8g", "x2gd", "im4gn"):
        t = next(v for k, v in INSTANCE_TYPES.items() if k.startswith(graviton + "."))
        assert t["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"], graviton
        assert architecture_of(graviton) == "arm64"


def test_defaults_survive_a_round_trip_through_validation() -> None:
    assert BatchConfig.model_validate(BatchConfig().model_dump()) == BatchConfig()
