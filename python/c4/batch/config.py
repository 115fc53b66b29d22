"""The ``[batch]`` section of ``c4.toml``: everything needed to run c4 as an AWS Batch array job.

Every key has a default so that a config without a ``[batch]`` table is valid; the account-specific
keys (subnets, security groups, roles, image, AMI) must be filled in before a real ``c4 submit``,
which says which one is missing. Checks that need several keys together (instance sizes against
the job's vCPUs and memory, the RUNNABLE trap, ...) live in :mod:`c4.batch.validate`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,126}[A-Za-z0-9]$"
"""Names of Batch resources: what AWS (and moto) accept for compute environments, queues, etc."""

AllocationStrategy = Literal[
    "BEST_FIT",
    "BEST_FIT_PROGRESSIVE",
    "SPOT_CAPACITY_OPTIMIZED",
    "SPOT_PRICE_CAPACITY_OPTIMIZED",
]
ImageType = Literal["ECS_AL2023", "ECS_AL2", "ECS_AL2023_NVIDIA", "ECS_AL2_NVIDIA"]


class BatchConfig(BaseModel):
    """Settings of the AWS Batch compute environment, job queue, job definition and array job."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # --- names -------------------------------------------------------------------------------
    compute_environment: str = Field(
        "c4-spot", pattern=NAME_PATTERN, description="Name of the managed compute environment."
    )
    job_queue: str = Field("c4-queue", pattern=NAME_PATTERN, description="Name of the job queue.")
    job_definition: str = Field(
        "c4-correlate", pattern=NAME_PATTERN, description="Name of the job definition."
    )
    launch_template: str = Field(
        "c4-imdsv2",
        pattern=r"^[A-Za-z0-9()./_-]{3,128}$",
        description="Name of the EC2 launch template (IMDSv2 required, encrypted volumes).",
    )
    job_name: str = Field(
        "c4", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
        description="Name given to submitted jobs.",
    )
    queue_priority: int = Field(1, ge=0, le=1000, description="Priority of the job queue.")

    # --- container -----------------------------------------------------------------------------
    image: str = Field(
        "c4:latest",
        description="Container image of the job (the `docker build .` image pushed to a registry, "
        "e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:0.1.0).",
    )
    command: list[str] = Field(
        default_factory=lambda: ["correlate"],
        description="Arguments given to the image's `c4` entry point "
        "(`--config <url>` is appended).",
    )
    vcpus: int = Field(32, ge=1, description="vCPUs reserved by each array child.")
    memory_mib: int = Field(200_000, ge=4, description="Memory reserved by each child, in MiB.")
    attempts: int = Field(
        2,
        description="Attempts per child (AWS allows 1-10); Spot reclaims are retried, "
        "application errors are not.",
    )
    timeout_s: int = Field(
        172_800, description="Execution timeout of one attempt, in seconds (AWS minimum 60)."
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for the container."
    )
    scratch_host_path: str = Field(
        "/docker_scratch", description="Host path of the AMI's scratch volume (see packer/)."
    )
    scratch_container_path: str = Field(
        "/scratch", description="Where the scratch volume is mounted inside the container."
    )
    job_role_arn: str | None = Field(
        None, description="IAM role the job assumes (S3 read of the input, write of the output)."
    )
    execution_role_arn: str | None = Field(
        None, description="Optional ECS execution role (CloudWatch logs, private registries)."
    )

    # --- compute environment -------------------------------------------------------------------
    provisioning: Literal["SPOT", "EC2"] = Field(
        "SPOT", description="SPOT (default, ~70 % cheaper, may be reclaimed) or EC2 (on demand)."
    )
    allocation_strategy: AllocationStrategy = Field(
        "SPOT_PRICE_CAPACITY_OPTIMIZED", description="How Batch picks instances."
    )
    bid_percentage: int = Field(
        100, description="Highest Spot price as a percentage of the on-demand price (1-100)."
    )
    instance_types: list[str] = Field(
        default_factory=lambda: ["r5.8xlarge", "r5a.8xlarge", "r6i.8xlarge"],
        min_length=1,
        description="Instance types (or families such as 'r6i') the environment may launch.",
    )
    min_vcpus: int = Field(0, ge=0, description="vCPUs kept running when idle (0 = scale to 0).")
    desired_vcpus: int = Field(0, ge=0, description="vCPUs started when the environment is made.")
    max_vcpus: int = Field(
        384, ge=0, description="Most vCPUs running at once (12 children of 32 vCPUs by default)."
    )
    subnets: list[str] = Field(default_factory=list, description="Subnet ids for the instances.")
    security_groups: list[str] = Field(
        default_factory=list, description="Security group ids for the instances."
    )
    ami_id: str | None = Field(
        None, description="AMI of the instances (the packer/ build); wins over ami_manifest."
    )
    ami_manifest: str | None = Field(
        "packer/manifest.json",
        description="Packer manifest to read the AMI from when ami_id is unset "
        "(builds[-1].artifact_id = 'region:ami-...').",
    )
    image_type: ImageType = Field(
        "ECS_AL2023", description="Batch image type matching the AMI's family."
    )
    root_device: str = Field(
        "/dev/xvda", description="Root device name of the AMI (ECS-optimized AL2023 and AL2)."
    )
    root_volume_gib: int = Field(50, ge=8, description="Size of the encrypted root volume, GiB.")
    scratch_device: str | None = Field(
        "/dev/xvdb",
        description="Device of the AMI's scratch volume (packer/ maps /dev/xvdb); the launch "
        "template marks it encrypted. Unset: leave the AMI's mapping alone.",
    )
    scratch_volume_gib: int | None = Field(
        None, ge=1, description="Size of the scratch volume, GiB; unset keeps the AMI's size."
    )
    instance_role: str = Field(
        "ecsInstanceRole",
        description="Instance profile (name or ARN) of the container instances.",
    )
    service_role_arn: str | None = Field(
        None,
        description="Batch service role; unset uses the AWSServiceRoleForBatch linked role.",
    )
    region: str | None = Field(
        None, description="AWS region; unset uses AWS_DEFAULT_REGION / the profile's region."
    )
    tags: dict[str, str] = Field(
        default_factory=lambda: {"project": "c4"}, description="Tags put on created resources."
    )

    # --- estimates -----------------------------------------------------------------------------
    spot_price_per_vcpu_hour: float = Field(
        0.02, ge=0, description="Spot price used by estimates, USD per vCPU-hour."
    )
    on_demand_price_per_vcpu_hour: float = Field(
        0.063, ge=0, description="On-demand price used by estimates, USD per vCPU-hour "
        "(r5.8xlarge in us-west-2: 2.016 USD/h over 32 vCPUs)."
    )
    vcpu_seconds_per_channel_day: float | None = Field(
        None,
        gt=0,
        description="Override of the benchmark calibration used for vCPU-hour estimates "
        "(see c4.batch.estimate).",
    )

    @field_validator("instance_types", "subnets", "security_groups")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("entries must be non-empty strings")
        return value

    def resolve_ami(self, region: str | None = None) -> str | None:
        """AMI id to use: ``ami_id``, else the last build of the packer manifest, else None.

        ``artifact_id`` may list several regions (``"us-west-2:ami-1,us-east-1:ami-2"``); the one
        of ``region`` is picked, else the first. Raises ``ValueError`` for an unreadable manifest.
        """
        if self.ami_id:
            return self.ami_id
        if not self.ami_manifest:
            return None
        path = Path(self.ami_manifest)
        if not path.is_file():
            return None
        try:
            builds = json.loads(path.read_text())["builds"]
            artifact = str(builds[-1]["artifact_id"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            msg = f"batch.ami_manifest {path}: no builds[-1].artifact_id ({exc})"
            raise ValueError(msg) from exc
        pairs = [item.split(":", 1) for item in artifact.split(",") if item.strip()]
        by_region = {p[0].strip(): p[-1].strip() for p in pairs}
        if region and region in by_region:
            return by_region[region]
        return pairs[0][-1].strip() if pairs else None
