"""Helpers of the Batch tests: an AWS account in moto (roles, network, AMI, image, bucket) and
a c4.toml for it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from c4.cli import app
from typer.testing import CliRunner

JOB_ROLE = "arn:aws:iam::123456789012:role/c4-job"
OFFLINE_IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:test"


@dataclass(frozen=True)
class Account:
    """What a user creates once per account before ``c4 submit`` (docs/aws.md, step 0-3)."""

    service_role: str
    instance_profile: str
    subnet: str
    security_group: str
    ami: str
    image: str
    """``<registry>/<repository>:test``, pushed to ECR."""
    digest: str
    bucket: str


def linked_service_role() -> str:
    """ARN of Batch's service-linked role in the moto account (created once)."""
    iam = boto3.client("iam")
    try:
        return str(iam.get_role(RoleName="AWSServiceRoleForBatch")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(iam.create_service_linked_role(
            AWSServiceName="batch.amazonaws.com")["Role"]["Arn"])


def make_account(*, ami_family: str = "al2023", ami_arch: str = "x86_64") -> Account:
    """IAM roles, VPC, subnet, security group, a c4 AMI, an ECR image and an output bucket."""
    tag = uuid.uuid4().hex[:8]
    iam, ec2 = boto3.client("iam"), boto3.client("ec2")
    role = iam.create_role(RoleName=f"batch-svc-{tag}", AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName=f"ecs-inst-{tag}")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"c4-{tag}", Description="c4", VpcId=vpc)
    ami = ec2.register_image(Name=f"c4-ecs-{ami_family}-{ami_arch}-{tag}",
                             Architecture=ami_arch, RootDeviceName="/dev/xvda")["ImageId"]
    # moto drops Architecture from describe_images; the Packer template's tags carry it too.
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "c4:ami-family", "Value": ami_family},
                                           {"Key": "c4:arch", "Value": ami_arch}])
    ecr = boto3.client("ecr")
    repo = ecr.create_repository(repositoryName=f"c4-{tag}", imageTagMutability="IMMUTABLE",
                                 imageScanningConfiguration={"scanOnPush": True})
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7,
                   "digest": "sha256:" + tag * 8},
        "layers": [],
    })
    pushed = ecr.put_image(repositoryName=f"c4-{tag}", imageManifest=manifest, imageTag="test")
    bucket = f"c4-out-{tag}"
    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return Account(
        role["Role"]["Arn"], profile["InstanceProfile"]["Arn"], subnet, sg["GroupId"], ami,
        f"{repo['repository']['repositoryUri']}:test", pushed["image"]["imageId"]["imageDigest"],
        bucket,
    )


def write_config(
    path: Path, account: Account | None, *, output: str | None = None, **batch: Any
) -> tuple[Path, str]:
    """A c4.toml covering 2017 by month with unique resource names; returns (path, suffix)."""
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "compute_environment": f"c4-ce-{suffix}",
        "job_queue": f"c4-q-{suffix}",
        "job_definition": f"c4-jd-{suffix}",
        "launch_template": f"c4-lt-{suffix}",
        "log_group": f"/aws/batch/c4-{suffix}",
        "region": "us-west-2",
        "instance_types": ["r5.8xlarge"],
        "job_role_arn": JOB_ROLE,
        "timeout_s": 36000,
    }
    if account is not None:
        values.update(
            subnets=[account.subnet], security_groups=[account.security_group],
            service_role_arn=account.service_role, instance_role=account.instance_profile,
            ami_id=account.ami, image=account.image,
        )
        output = output or f"s3://{account.bucket}/run-{suffix}"
    else:
        values.update(subnets=["subnet-0aaa"], security_groups=["sg-0bbb"],
                      service_role_arn="arn:aws:iam::123456789012:role/batch",
                      ami_id="ami-0123456789abcdef0", image=OFFLINE_IMAGE)
        output = output or "s3://c4-out/run"
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
    jds = batch.describe_job_definitions(jobDefinitionName=f"c4-jd-{suffix}", status="ACTIVE")
    templates = ec2.describe_launch_templates()["LaunchTemplates"]
    return {
        "compute environment": bool(ces["computeEnvironments"]),
        "job queue": bool(queues["jobQueues"]),
        "job definition": bool(jds["jobDefinitions"]),
        "launch template": any(t["LaunchTemplateName"] == f"c4-lt-{suffix}" for t in templates),
    }


class SentRequests:
    """Records every boto3 call of a session (service.operation -> parameters, in order)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.submitted: Any = None

    def session(self, region: str = "us-west-2") -> Any:
        """A boto3 session whose clients report their parameters here."""
        import copy
        import re

        session = boto3.Session(region_name=region)

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            service = model.service_model.service_name
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", model.name).lower()
            self.calls.append((f"{service}.{name}", copy.deepcopy(params)))

        session.events.register("provide-client-params.*.*", record)
        return session

    def all(self, op: str) -> list[dict[str, Any]]:
        """Parameters of every call of ``op`` (e.g. ``batch.update_compute_environment``)."""
        return [params for name, params in self.calls if name == op]

    def last(self, op: str) -> dict[str, Any]:
        """Parameters of the last call of ``op``."""
        found = self.all(op)
        assert found, f"{op} was never called; calls: {[n for n, _ in self.calls]}"
        return found[-1]
