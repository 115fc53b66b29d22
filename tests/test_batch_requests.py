"""The requests themselves: every dry-run request against botocore's own service model, and
AWS's rules that the model does not carry (c4.batch.rules), each with the value AWS rejects.

boto3 validates parameters before sending, so whatever a moto test sends was checked too; the
dry run prints dictionaries that are never sent, so they are checked here with botocore's
``ParamValidator`` on the exact dicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from batch_helpers import invoke, write_config
from botocore.validate import ParamValidator
from c4.batch import rules
from c4.batch.config import BatchConfig
from c4.batch.requests import (
    RETRY_RULES,
    compute_environment_request,
    job_definition_request,
    update_policy,
)

_SESSION = botocore.session.get_session()


def validate_with_botocore(op: str, params: dict[str, Any]) -> str:
    """botocore's report for ``service.snake_case_operation`` with ``params`` ('' if valid)."""
    service, snake = op.split(".", 1)
    model = _SESSION.get_service_model(service)
    camel = "".join(part.capitalize() for part in snake.split("_"))
    operation = model.operation_model(camel)
    report = ParamValidator().validate(params, operation.input_shape)
    return report.generate_report() if report.has_errors() else ""


VARIANTS: list[tuple[list[str], dict[str, Any]]] = [
    (["--months", "12"], {}),
    (["--months", "1", "--start", "2017-05"], {}),  # a plain job with --index
    (["--months", "3"], {"provisioning": "EC2", "allocation_strategy": "BEST_FIT_PROGRESSIVE"}),
    (["--months", "2"], {"ebs_kms_key_id": "alias/c4-ebs", "scratch_volume_gib": 900,
                         "execution_role_arn": "arn:aws:iam::123456789012:role/exec",
                         "instance_types": ["r6i", "r7i.8xlarge"], "timeout_s": None}),
]


@pytest.mark.parametrize(("args", "keys"), VARIANTS, ids=["array", "one", "ec2", "kms"])
def test_every_dry_run_request_validates_against_the_botocore_model(
    tmp_path: Path, args: list[str], keys: dict[str, Any]
) -> None:
    config, _ = write_config(tmp_path / "c4.toml", None, **keys)
    result = invoke("submit", "--dry-run", *args, "--stations", "30", "--config", str(config),
                    "--config-url", "s3://cfg-bucket/c4.toml")
    assert result.exit_code == 0, result.output
    requests = json.loads(result.stdout)["requests"]
    assert set(requests) == {
        "logs.create_log_group", "logs.put_retention_policy", "ec2.create_launch_template",
        "batch.create_compute_environment", "batch.create_job_queue",
        "batch.register_job_definition", "batch.submit_job"}
    for op, params in requests.items():
        assert validate_with_botocore(op, params) == "", (op, params)


def test_the_in_place_update_validates_against_the_botocore_model() -> None:
    cfg = BatchConfig(subnets=["subnet-1"], security_groups=["sg-1"])
    cr = compute_environment_request(cfg, "ami-1")["computeResources"]
    update = {"computeEnvironment": "c4-spot",
              "computeResources": {"ec2Configuration": cr["ec2Configuration"],
                                   "launchTemplate": cr["launchTemplate"], "maxvCpus": 10},
              "updatePolicy": update_policy(cfg)}
    assert validate_with_botocore("batch.update_compute_environment", update) == ""


def test_the_validator_catches_what_it_should() -> None:
    # the reference itself can fail: a wrong type and an unknown key are reported
    report = validate_with_botocore("batch.submit_job", {
        "jobName": "x", "jobQueue": "q", "jobDefinition": "d", "arrayProperties": {"size": "2"},
        "containerOverrides": {"cmd": ["x"]}})
    assert "arrayProperties.size" in report and "cmd" in report


# --- AWS rules botocore's model does not carry --------------------------------------------


def test_array_size_must_be_2_to_10000() -> None:
    # ArrayProperties (Batch API reference): "between 2 and 10,000"
    for size, ok in ((1, False), (2, True), (10_000, True), (10_001, False)):
        problems = rules.submit_job_problems({"arrayProperties": {"size": size}})
        assert (problems == []) is ok, size
    assert rules.submit_job_problems({"containerOverrides": {"command": ["x"]}}) == []


def _job_definition(**batch: Any) -> dict[str, Any]:
    cfg = BatchConfig(image="123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:1", **batch)
    return job_definition_request(cfg, "s3://b/c4.toml", timeout_s=batch.get("timeout_s") or 3600)


def test_attempts_timeout_and_retry_rules() -> None:
    assert rules.job_definition_problems(_job_definition()) == []
    assert "must be 1-10" in " ".join(rules.job_definition_problems(_job_definition(attempts=11)))
    assert "must be 1-10" in " ".join(rules.job_definition_problems(_job_definition(attempts=0)))
    assert "at least 60" in " ".join(rules.job_definition_problems(_job_definition(timeout_s=59)))
    assert rules.job_definition_problems(_job_definition(timeout_s=60)) == []
    # c4's own retry rules fit AWS's limits (5 rules, accepted patterns) ...
    request = _job_definition()
    assert len(RETRY_RULES) <= rules.MAX_EVALUATE_ON_EXIT
    # ... and the checks reject what AWS rejects.
    request["retryStrategy"]["evaluateOnExit"] = [*RETRY_RULES, {"onReason": "*", "action": "EXIT"}]
    assert "AWS allows 5" in " ".join(rules.job_definition_problems(request))
    request["retryStrategy"]["evaluateOnExit"] = [
        {"onStatusReason": "Host EC2 (instance)*", "action": "RETRY"},
        {"onExitCode": "14*3", "action": "RETRY"},
        {"onReason": "*x", "action": "EXIT"},
        {"onReason": "*", "action": "retry"},
    ]
    problems = rules.job_definition_problems(request)
    assert len(problems) == 4, problems


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:0.1.0", True),
        ("public.ecr.aws/abc/c4:1", True),
        ("localhost:5000/c4:dev", True),
        ("ghcr.io/org/c4@sha256:" + "a" * 64, True),
        ("c4:latest", False),  # Docker Hub's official repository "c4"
        ("someone/c4:1", False),  # Docker Hub user repository
        ("", False),
        (None, False),
        ("registry.example.com/c4 image:1", False),
    ],
)
def test_the_image_needs_a_registry_host(image: str | None, ok: bool) -> None:
    assert (rules.image_problems(image) == []) is ok


@pytest.mark.parametrize(
    ("role", "ok"),
    [
        ("ecsInstanceRole", True),
        ("arn:aws:iam::123456789012:instance-profile/ecsInstanceRole", True),
        ("arn:aws:iam::123456789012:instance-profile/path/ecs", True),
        ("arn:aws:iam::123456789012:role/ecsInstanceRole", False),
        ("arn:aws:iam::12345:instance-profile/x", False),
    ],
)
def test_the_instance_role_must_be_an_instance_profile(role: str, ok: bool) -> None:
    # ComputeResource.instanceRole: "the short name or full ARN of an instance profile"
    problems = rules.instance_role_problems(role)
    assert (problems == []) is ok
    if ":role/" in role:
        assert "instance-profile/ecsInstanceRole" in problems[0]  # the fix is suggested


def test_job_role_and_update_policy_and_tags() -> None:
    assert "unset" in rules.job_role_problems(None)[0]
    assert rules.job_role_problems("arn:aws:iam::123456789012:role/c4-job") == []
    assert rules.job_role_problems("c4-job")
    assert rules.update_policy_problems({"jobExecutionTimeoutMinutes": 360}) == []
    assert rules.update_policy_problems({"jobExecutionTimeoutMinutes": 361})
    assert rules.update_policy_problems({"jobExecutionTimeoutMinutes": 0})
    assert rules.tag_problems({f"k{i}": "v" for i in range(50)}) == []
    assert rules.tag_problems({f"k{i}": "v" for i in range(51)})
    assert rules.tag_problems({"aws:owner": "me"})
    assert rules.tag_problems({"k": "v" * 257})


def test_compute_environment_rules() -> None:
    ok = compute_environment_request(BatchConfig(), "ami-1")
    assert rules.compute_environment_problems(ok) == []
    spot_on_ec2 = compute_environment_request(BatchConfig(provisioning="EC2"), "ami-1")
    assert "needs batch.provisioning = 'SPOT'" in rules.compute_environment_problems(
        spot_on_ec2)[0]
    bid = compute_environment_request(BatchConfig(bid_percentage=101), "ami-1")
    assert "1-100" in rules.compute_environment_problems(bid)[0]
    order = compute_environment_request(BatchConfig(min_vcpus=10, max_vcpus=5), "ami-1")
    assert "does not hold" in rules.compute_environment_problems(order)[0]
