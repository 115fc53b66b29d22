"""The ``[batch]`` section of ``c4.toml``: everything needed to run c4 as an AWS Batch array job.

Every key has a default so that a config without a ``[batch]`` table is valid; the account-specific
keys (subnets, security groups, roles, image, AMI) must be filled in before a real ``c4 submit``,
which says which one is missing. Checks that need several keys together (instance sizes against
the job's vCPUs and memory, the RUNNABLE trap, AWS's own limits, ...) live in
:mod:`c4.batch.validate`; the AMI and its Packer manifest in :mod:`c4.batch.ami`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,126}[A-Za-z0-9]$"
"""Names of Batch resources: what AWS (and moto) accept for compute environments, queues, etc."""

BLUE_GREEN_SUFFIX_LEN = 9
"""A blue/green replacement environment is named ``<compute_environment>-<8 hex digits>``."""

# BEST_FIT is left out on purpose. CreateComputeEnvironment (ComputeResource.spotIamFleetRole):
# "required if the allocation strategy is set to BEST_FIT or if the allocation strategy isn't
# specified", a role c4 does not manage; and "Updating compute environments" (user guide): BEST_FIT
# environments cannot take infrastructure updates at all.
AllocationStrategy = Literal[
    "BEST_FIT_PROGRESSIVE",
    "SPOT_CAPACITY_OPTIMIZED",
    "SPOT_PRICE_CAPACITY_OPTIMIZED",
]
S3Route = Literal["gateway-endpoint", "nat-gateway", "public-subnet"]
ImageType = Literal["ECS_AL2023", "ECS_AL2", "ECS_AL2023_NVIDIA", "ECS_AL2_NVIDIA"]


DEFAULT_INSTANCE_FAMILIES = (
    "r5", "r5a", "r5b", "r5d", "r5n", "r6a", "r6i", "r6id", "r7a", "r7i",
)
"""x86_64 families with 8 GiB per vCPU: a 32-vCPU / 200000-MiB child fits their 8xlarge (and two
fit a 16xlarge). r5a (EPYC 7571) and r6a (EPYC Zen 3) have no AVX-512."""

# PutRetentionPolicy (CloudWatch Logs API reference): retentionInDays "Possible values are: 1, 3,
# 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
# and 3653."
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)


class BatchConfig(BaseModel):
    """Settings of the AWS Batch compute environment, job queue, job definition and array job."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # --- names -------------------------------------------------------------------------------
    compute_environment: str = Field(
        "c4-spot", pattern=NAME_PATTERN, max_length=128 - BLUE_GREEN_SUFFIX_LEN,
        description="Name of the managed compute environment (a blue/green replacement is "
        "named <name>-<8 hex digits>).",
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
    image: str | None = Field(
        None,
        description="Container image of the job, with its registry host: the `docker build .` "
        "image pushed to ECR, e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:0.1.0 "
        "(a submit pins the job definition to the tag's digest).",
    )
    command: list[str] = Field(
        default_factory=lambda: ["correlate"],
        description="Arguments given to the image's `c4` entry point "
        "(`--config <url>` is appended).",
    )
    vcpus: int = Field(32, ge=1, description="vCPUs reserved by each array child.")
    memory_mib: int = Field(200_000, ge=4, description="Memory reserved by each child, in MiB.")
    attempts: int = Field(
        3,
        description="Attempts per child (AWS allows 1-10); Spot reclaims, failed starts and "
        "image-pull errors are retried, application errors are not.",
    )
    timeout_s: int | None = Field(
        None,
        description="Execution timeout of one attempt, in seconds (AWS minimum 60); unset: "
        "derived from the run estimate (3x the longest shard plus start-up, at least 1 h).",
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
        None, description="Optional ECS execution role (private registries, secrets)."
    )
    log_group: str = Field(
        "/aws/batch/c4", pattern=r"^[A-Za-z0-9_./#-]{1,512}$",
        description="CloudWatch log group of the job's output (created with a retention).",
    )
    log_retention_days: int = Field(
        90, description="Days CloudWatch keeps the job logs (one of AWS's retention values).",
    )

    # --- compute environment -------------------------------------------------------------------
    provisioning: Literal["SPOT", "EC2"] = Field(
        "SPOT", description="SPOT (default, ~70 % cheaper, may be reclaimed) or EC2 (on demand)."
    )
    allocation_strategy: AllocationStrategy = Field(
        "SPOT_PRICE_CAPACITY_OPTIMIZED",
        description="How Batch picks instances (BEST_FIT is not offered: it needs a Spot fleet "
        "role and blocks in-place updates).",
    )
    bid_percentage: int = Field(
        100, description="Highest Spot price as a percentage of the on-demand price (1-100)."
    )
    instance_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INSTANCE_FAMILIES),
        min_length=1,
        description="Instance types or families the environment may launch. The default lists "
        "every x86_64 family with 8 GiB per vCPU (many Spot pools); r5a and r6a (AMD) lack "
        "AVX-512 and run the AVX2 kernels.",
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
    ebs_kms_key_id: str | None = Field(
        None,
        pattern=r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+|[0-9a-f-]{36}|alias/.+)$",
        description="Customer-managed KMS key (ARN, id or alias) encrypting the root and scratch "
        "volumes; unset uses the account's default EBS key. Its key policy must let the Spot "
        "and Auto Scaling service-linked roles use it (docs/aws.md).",
    )
    instance_role: str = Field(
        "ecsInstanceRole",
        description="Instance profile (name, or ARN ...:instance-profile/NAME; not a role ARN) "
        "of the container instances.",
    )
    service_role_arn: str | None = Field(
        None,
        description="Batch service role; unset uses the AWSServiceRoleForBatch linked role "
        "(needed for in-place infrastructure updates; with a custom role c4 replaces the "
        "environment blue/green instead).",
    )
    update_job_timeout_minutes: int = Field(
        360,
        description="How long jobs running during an in-place infrastructure update may go on "
        "before Batch stops them (they are then retried and resume), minutes (1-360).",
    )
    region: str | None = Field(
        None, description="AWS region; unset uses AWS_DEFAULT_REGION / the profile's region."
    )
    source_region: str | None = Field(
        None,
        description="Region of the data.source bucket; unset: us-west-2 for scedc-pds, else "
        "the job's region. A different region adds transfer (and NAT) costs to the estimate.",
    )
    s3_route: S3Route = Field(
        "gateway-endpoint",
        description="How the instances reach S3, for the estimate: gateway-endpoint (free, "
        "same region only), nat-gateway (0.045 USD/GB processed) or public-subnet.",
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

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                "must be one of " + ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            )
        return value

    @field_validator("instance_types", "subnets", "security_groups")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("entries must be non-empty strings")
        return value
