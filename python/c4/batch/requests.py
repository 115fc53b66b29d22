"""The AWS requests of a submit, built in one place.

``c4 submit --dry-run`` prints these dictionaries and ``c4 submit`` sends them (create calls
verbatim; update calls are derived from them), so what a dry run shows is what a submit sends.
Three values are only known once AWS is asked, and a submit fills them in: the launch-template
version the environment pins (1 for a new template), the image digest the job definition pins
(the dry run shows the tag) and, for a blue/green replacement, the new environment's name.
Keys are the boto3 parameter names of the EC2, Batch and CloudWatch Logs APIs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from c4.batch.config import BatchConfig
from c4.batch.rules import IMAGE_PLACEHOLDER
from c4.shards import SHARD_MAP_ENV  # "C4_SHARD_MAP": "3,7,11", child i runs shard map[i]

SPEC_TAG = "c4-spec-sha256"
"""Tag on each job-definition revision: hash of the request that made it (change detection)."""
BASE_TAG = "c4-compute-environment"
"""Tag on every compute environment c4 makes: the ``batch.compute_environment`` it stands for
(a blue/green replacement carries its base name)."""
CONFIG_ENV = "C4_CONFIG"
"""Location of ``c4.toml`` for the job (also passed as ``--config``)."""
SCRATCH_VOLUME = "scratch"
LOG_STREAM_PREFIX = "c4"

# RetryStrategy.evaluateOnExit, first match wins (Batch API reference, EvaluateOnExit;
# "Automated job retries" in the user guide names the reasons below):
RETRY_RULES: tuple[dict[str, str], ...] = (
    # Spot reclaim or a lost instance: "Host EC2 (instance i-...) terminated."
    {"onStatusReason": "Host EC2*", "action": "RETRY"},
    # The container never started (ECS task placement, ENI, volume or agent hiccups).
    {"onStatusReason": "Task failed to start*", "action": "RETRY"},
    # A pull that failed (ECR throttling, network); a missing image is refused before submit.
    {"onReason": "CannotPullContainerError*", "action": "RETRY"},
    # c4 exits 143 when told to stop (SIGTERM: an infrastructure update or instance drain)
    # after keeping every finished day; a new attempt resumes. Timeouts are never retried.
    {"onExitCode": "143", "action": "RETRY"},
    # Anything else (a bug, bad input, out of memory) would fail the same way again.
    {"onReason": "*", "action": "EXIT"},
)


@dataclass(frozen=True)
class SubmitPlan:
    """Every request of one submit, in the order they are sent."""

    create_log_group: dict[str, Any]
    put_retention_policy: dict[str, Any]
    create_launch_template: dict[str, Any]
    create_compute_environment: dict[str, Any]
    create_job_queue: dict[str, Any]
    register_job_definition: dict[str, Any]
    submit_job: dict[str, Any]

    def as_json_dict(self) -> dict[str, dict[str, Any]]:
        """``{"logs.create_log_group": {...}, "ec2.create_launch_template": ..., ...}``."""
        return {
            "logs.create_log_group": self.create_log_group,
            "logs.put_retention_policy": self.put_retention_policy,
            "ec2.create_launch_template": self.create_launch_template,
            "batch.create_compute_environment": self.create_compute_environment,
            "batch.create_job_queue": self.create_job_queue,
            "batch.register_job_definition": self.register_job_definition,
            "batch.submit_job": self.submit_job,
        }


def _tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def log_group_requests(cfg: BatchConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """``logs.create_log_group`` and ``logs.put_retention_policy`` of the job logs."""
    return (
        {"logGroupName": cfg.log_group, "tags": dict(cfg.tags)},
        {"logGroupName": cfg.log_group, "retentionInDays": cfg.log_retention_days},
    )


def launch_template_request(cfg: BatchConfig) -> dict[str, Any]:
    """``ec2.create_launch_template``: IMDSv2 only, unreachable from containers; encrypted EBS.

    IMDSv2 (``HttpTokens=required``) closes the SSRF route to the instance credentials, and a
    hop limit of 1 keeps the token answer from reaching a container behind Docker's bridge
    (the ECS agent runs in the host's network and still reaches it); the AMI also drops
    container traffic to 169.254.169.254 (packer/scripts/block-container-imds.sh). The job's
    own credentials come from its job role through the ECS agent. Set here rather than in
    packer/ because the Packer the CI installs cannot set metadata options.

    ``KmsKeyId`` is accepted in launch-template (RunInstances) mappings, not in CreateImage's
    (EbsBlockDevice, EC2 API reference: "This parameter is only supported on BlockDeviceMapping
    objects called by CreateFleet, RequestSpotInstances, and RunInstances").
    """
    ebs_key = {"KmsKeyId": cfg.ebs_kms_key_id} if cfg.ebs_kms_key_id else {}
    mappings: list[dict[str, Any]] = [
        {
            "DeviceName": cfg.root_device,
            "Ebs": {
                "Encrypted": True,
                "DeleteOnTermination": True,
                "VolumeSize": cfg.root_volume_gib,
                "VolumeType": "gp3",
                **ebs_key,
            },
        }
    ]
    if cfg.scratch_device:
        scratch: dict[str, Any] = {"Encrypted": True, "DeleteOnTermination": True, **ebs_key}
        if cfg.scratch_volume_gib:
            scratch["VolumeSize"] = cfg.scratch_volume_gib
        mappings.append({"DeviceName": cfg.scratch_device, "Ebs": scratch})
    return {
        "LaunchTemplateName": cfg.launch_template,
        "LaunchTemplateData": {
            "MetadataOptions": {
                "HttpTokens": "required",
                "HttpEndpoint": "enabled",
                "HttpPutResponseHopLimit": 1,
            },
            "BlockDeviceMappings": mappings,
        },
        "TagSpecifications": [
            {"ResourceType": "launch-template", "Tags": _tags_list(cfg.tags)}
        ],
    }


def compute_environment_request(
    cfg: BatchConfig, ami: str, *, launch_template_version: int = 1, name: str | None = None
) -> dict[str, Any]:
    """``batch.create_compute_environment``: MANAGED, Spot (or EC2), our AMI and template.

    The template is pinned by version number: Batch resolves ``$Latest`` and ``$Default`` once,
    when the environment is created or infrastructure-updated (LaunchTemplateSpecification,
    Batch API reference), so a new template version under ``$Latest`` would never reach the
    instances; a pinned number makes every template change an environment change.
    """
    resources: dict[str, Any] = {
        "type": cfg.provisioning,
        "allocationStrategy": cfg.allocation_strategy,
        "minvCpus": cfg.min_vcpus,
        "maxvCpus": cfg.max_vcpus,
        "desiredvCpus": cfg.desired_vcpus,
        "instanceTypes": list(cfg.instance_types),
        "subnets": list(cfg.subnets),
        "securityGroupIds": list(cfg.security_groups),
        "instanceRole": cfg.instance_role,
        "launchTemplate": {
            "launchTemplateName": cfg.launch_template,
            "version": str(launch_template_version),
        },
        "ec2Configuration": [{"imageType": cfg.image_type, "imageIdOverride": ami}],
        "tags": dict(cfg.tags),
    }
    if cfg.provisioning == "SPOT":
        resources["bidPercentage"] = cfg.bid_percentage
    request: dict[str, Any] = {
        "computeEnvironmentName": name or cfg.compute_environment,
        "type": "MANAGED",
        "state": "ENABLED",
        "computeResources": resources,
        "tags": {**cfg.tags, BASE_TAG: cfg.compute_environment},
    }
    if cfg.service_role_arn:
        request["serviceRole"] = cfg.service_role_arn
    return request


def update_policy(cfg: BatchConfig) -> dict[str, Any]:
    """``updatePolicy`` of an infrastructure update: running jobs are not killed at once but
    get ``batch.update_job_timeout_minutes`` (Batch's default is 30) before their instance is
    replaced; then they are retried (exit 143 or "Host EC2...") and resume."""
    return {
        "terminateJobsOnUpdate": False,
        "jobExecutionTimeoutMinutes": cfg.update_job_timeout_minutes,
    }


def job_queue_request(cfg: BatchConfig, compute_environment: str | None = None) -> dict[str, Any]:
    """``batch.create_job_queue`` on the compute environment."""
    return {
        "jobQueueName": cfg.job_queue,
        "state": "ENABLED",
        "priority": cfg.queue_priority,
        "computeEnvironmentOrder": [
            {"order": 1, "computeEnvironment": compute_environment or cfg.compute_environment}
        ],
        "tags": dict(cfg.tags),
    }


def job_command(cfg: BatchConfig, config_url: str) -> list[str]:
    """What the image's ``c4`` entry point runs: ``correlate --config <url>``."""
    return [*cfg.command, "--config", config_url]


def job_definition_request(
    cfg: BatchConfig, config_url: str, *, timeout_s: int, region: str | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """``batch.register_job_definition``: EC2 container, scratch volume, init process, logs
    with retention, retries for reclaims and failed starts, a timeout.

    ``image`` (default ``batch.image``) is the tag, or its digest once resolved. The request
    carries the tag :data:`SPEC_TAG`, a hash of everything else in it, so that a submit
    registers a new revision only when something changed.
    """
    environment = {**cfg.environment, CONFIG_ENV: config_url,
                   # The container cannot reach IMDS (see the launch template): tell botocore
                   # not to try, and give it the region it would have asked for.
                   "AWS_EC2_METADATA_DISABLED": "true"}
    if region:
        environment["AWS_DEFAULT_REGION"] = region
    container: dict[str, Any] = {
        "image": image or cfg.image or IMAGE_PLACEHOLDER,
        "command": job_command(cfg, config_url),
        "resourceRequirements": [
            {"type": "VCPU", "value": str(cfg.vcpus)},
            {"type": "MEMORY", "value": str(cfg.memory_mib)},
        ],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "volumes": [{"name": SCRATCH_VOLUME, "host": {"sourcePath": cfg.scratch_host_path}}],
        "mountPoints": [
            {
                "sourceVolume": SCRATCH_VOLUME,
                "containerPath": cfg.scratch_container_path,
                "readOnly": False,
            }
        ],
        # An init process as PID 1 forwards SIGTERM (Spot notice, timeout, update) to c4 and
        # reaps its worker processes (LinuxParameters.initProcessEnabled).
        "linuxParameters": {"initProcessEnabled": True},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": cfg.log_group,
                        "awslogs-stream-prefix": LOG_STREAM_PREFIX},
        },
    }
    if cfg.job_role_arn:
        container["jobRoleArn"] = cfg.job_role_arn
    if cfg.execution_role_arn:
        container["executionRoleArn"] = cfg.execution_role_arn
    request: dict[str, Any] = {
        "jobDefinitionName": cfg.job_definition,
        "type": "container",
        "platformCapabilities": ["EC2"],
        "containerProperties": container,
        "retryStrategy": {
            "attempts": cfg.attempts,
            "evaluateOnExit": [dict(rule) for rule in RETRY_RULES],
        },
        "timeout": {"attemptDurationSeconds": timeout_s},
        "propagateTags": True,
    }
    request["tags"] = {**cfg.tags, SPEC_TAG: spec_hash(request)}
    return request


def spec_hash(request: dict[str, Any]) -> str:
    """SHA-256 of a request without its tags (stable key order)."""
    body = {k: v for k, v in request.items() if k != "tags"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def submit_job_request(
    cfg: BatchConfig, shards: list[int], shard_map: list[int] | None, config_url: str,
    job_name: str | None = None,
) -> dict[str, Any]:
    """``batch.submit_job``: an array job of ``len(shards)`` children, or one plain job.

    AWS sets ``AWS_BATCH_JOB_ARRAY_INDEX`` only in array children and arrays have at least 2
    (ArrayProperties), so a single shard travels explicitly: the command carries
    ``--index <shard>``. With ``shard_map``, array child ``i`` runs shard ``shard_map[i]``
    (environment :data:`SHARD_MAP_ENV`); without it child ``i`` runs shard ``i``.
    """
    request: dict[str, Any] = {
        "jobName": job_name or cfg.job_name,
        "jobQueue": cfg.job_queue,
        "jobDefinition": cfg.job_definition,
    }
    if len(shards) == 1:
        request["containerOverrides"] = {
            "command": [*job_command(cfg, config_url), "--index", str(shards[0])]
        }
    else:
        request["arrayProperties"] = {"size": len(shards)}
        if shard_map is not None:
            request["containerOverrides"] = {
                "environment": [{"name": SHARD_MAP_ENV, "value": format_shard_map(shard_map)}]
            }
    request["tags"] = dict(cfg.tags)
    request["propagateTags"] = True
    return request


def index_of_command(command: list[str] | None) -> int | None:
    """The shard a plain job's command carries (``--index N``), or None."""
    items = list(command or [])
    for flag in ("--index", "-i"):
        if flag in items[:-1]:
            try:
                return int(items[items.index(flag) + 1])
            except ValueError:
                return None
    return None


def format_shard_map(shard_map: list[int]) -> str:
    """``[3, 7, 11]`` -> ``"3,7,11"`` (the value of :data:`SHARD_MAP_ENV`)."""
    return ",".join(str(int(i)) for i in shard_map)


def build_plan(
    cfg: BatchConfig,
    *,
    ami: str,
    config_url: str,
    shards: list[int],
    shard_map: list[int] | None,
    timeout_s: int,
    region: str | None = None,
    job_name: str | None = None,
) -> SubmitPlan:
    """All requests of a submit; the single source for ``--dry-run`` and the real thing."""
    log_group, retention = log_group_requests(cfg)
    return SubmitPlan(
        create_log_group=log_group,
        put_retention_policy=retention,
        create_launch_template=launch_template_request(cfg),
        create_compute_environment=compute_environment_request(cfg, ami),
        create_job_queue=job_queue_request(cfg),
        register_job_definition=job_definition_request(
            cfg, config_url, timeout_s=timeout_s, region=region),
        submit_job=submit_job_request(cfg, shards, shard_map, config_url, job_name),
    )
