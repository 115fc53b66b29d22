"""Helpers of the Batch tests: an AWS account in moto (roles, network) and a c4.toml for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from c4.cli import app
from typer.testing import CliRunner


@dataclass(frozen=True)
class Account:
    """What a user creates once per account before ``c4 submit``."""

    service_role: str
    instance_profile: str
    subnet: str
    security_group: str


def make_account() -> Account:
    """IAM role, instance profile, VPC, subnet and security group in the moto server."""
    tag = uuid.uuid4().hex[:8]
    iam, ec2 = boto3.client("iam"), boto3.client("ec2")
    role = iam.create_role(RoleName=f"batch-svc-{tag}", AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName=f"ecs-inst-{tag}")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"c4-{tag}", Description="c4", VpcId=vpc)
    return Account(role["Role"]["Arn"], profile["InstanceProfile"]["Arn"], subnet, sg["GroupId"])


def write_config(
    path: Path, account: Account | None, *, output: str = "c4-results", **batch: Any
) -> tuple[Path, str]:
    """A c4.toml covering 2017 by month with unique resource names; returns (path, suffix)."""
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "compute_environment": f"c4-ce-{suffix}",
        "job_queue": f"c4-q-{suffix}",
        "job_definition": f"c4-jd-{suffix}",
        "launch_template": f"c4-lt-{suffix}",
        "image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:test",
        "ami_id": "ami-0123456789abcdef0",
        "region": "us-west-2",
        "instance_types": ["r5.8xlarge"],
    }
    if account is not None:
        values.update(
            subnets=[account.subnet], security_groups=[account.security_group],
            service_role_arn=account.service_role, instance_role=account.instance_profile,
        )
    else:
        values.update(subnets=["subnet-0aaa"], security_groups=["sg-0bbb"],
                      service_role_arn="arn:aws:iam::123456789012:role/batch")
    values.update(batch)
    lines = ["[data]", "start = 2017-01-01", "end = 2017-12-31", "", "[output]",
             f'output = "{output}"', "", "[batch]"]
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, list):
            lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        else:
            lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")
    return path, suffix


def invoke(*args: str) -> Any:
    """Run ``c4 ARGS`` in this process (CliRunner), stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def names_exist(suffix: str) -> dict[str, bool]:
    """Which of the resources named with ``suffix`` exist in the moto server."""
    batch, ec2 = boto3.client("batch"), boto3.client("ec2")
    ces = batch.describe_compute_environments(computeEnvironments=[f"c4-ce-{suffix}"])
    queues = batch.describe_job_queues(jobQueues=[f"c4-q-{suffix}"])
    jds = batch.describe_job_definitions(jobDefinitionName=f"c4-jd-{suffix}")
    templates = ec2.describe_launch_templates()["LaunchTemplates"]
    return {
        "compute environment": bool(ces["computeEnvironments"]),
        "job queue": bool(queues["jobQueues"]),
        "job definition": bool(jds["jobDefinitions"]),
        "launch template": any(t["LaunchTemplateName"] == f"c4-lt-{suffix}" for t in templates),
    }
