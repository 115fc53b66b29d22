"""The AWS requests of a submit, built in one place.

``c4 submit --dry-run`` prints these dictionaries and ``c4 submit`` sends them (create calls
verbatim; update calls are derived from them), so what a dry run shows is what a submit sends.
Keys are the boto3 parameter names of the EC2 and Batch APIs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from c4.batch.config import BatchConfig
from c4.shards import SHARD_MAP_ENV  # "C4_SHARD_MAP": "3,7,11", child i runs shard map[i]

SPEC_TAG = "c4-spec-sha256"
"""Tag on each job-definition revision: hash of the request that made it (change detection)."""
CONFIG_ENV = "C4_CONFIG"
"""Location of ``c4.toml`` for the job (also passed as ``--config``)."""
SCRATCH_VOLUME = "scratch"
SPOT_RECLAIM_REASON = "Host EC2*"
"""statusReason glob of a job whose Spot instance was reclaimed (retried)."""


@dataclass(frozen=True)
class SubmitPlan:
    """Every request of one submit, in the order they are sent."""

    create_launch_template: dict[str, Any]
    create_compute_environment: dict[str, Any]
    create_job_queue: dict[str, Any]
    register_job_definition: dict[str, Any]
    submit_job: dict[str, Any]

    def as_json_dict(self) -> dict[str, dict[str, Any]]:
        """``{"ec2.create_launch_template": {...}, "batch.create_compute_environment": ...}``."""
        return {
            "ec2.create_launch_template": self.create_launch_template,
            "batch.create_compute_environment": self.create_compute_environment,
            "batch.create_job_queue": self.create_job_queue,
            "batch.register_job_definition": self.register_job_definition,
            "batch.submit_job": self.submit_job,
        }


def _tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def launch_template_request(cfg: BatchConfig) -> dict[str, Any]:
    """``ec2.create_launch_template``: IMDSv2 only, encrypted EBS volumes.

    IMDSv2 (``HttpTokens=required``) closes the SSRF route to the instance credentials; it is set
    here rather than in packer/ because the Packer the CI installs cannot set metadata options.
    """
    mappings: list[dict[str, Any]] = [
        {
            "DeviceName": cfg.root_device,
            "Ebs": {
                "Encrypted": True,
                "DeleteOnTermination": True,
                "VolumeSize": cfg.root_volume_gib,
                "VolumeType": "gp3",
            },
        }
    ]
    if cfg.scratch_device:
        scratch: dict[str, Any] = {"Encrypted": True, "DeleteOnTermination": True}
        if cfg.scratch_volume_gib:
            scratch["VolumeSize"] = cfg.scratch_volume_gib
        mappings.append({"DeviceName": cfg.scratch_device, "Ebs": scratch})
    return {
        "LaunchTemplateName": cfg.launch_template,
        "LaunchTemplateData": {
            "MetadataOptions": {
                "HttpTokens": "required",
                "HttpEndpoint": "enabled",
                "HttpPutResponseHopLimit": 2,
            },
            "BlockDeviceMappings": mappings,
        },
        "TagSpecifications": [
            {"ResourceType": "launch-template", "Tags": _tags_list(cfg.tags)}
        ],
    }


def compute_environment_request(cfg: BatchConfig, ami: str) -> dict[str, Any]:
    """``batch.create_compute_environment``: MANAGED, Spot (or EC2), our AMI and template."""
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
        "launchTemplate": {"launchTemplateName": cfg.launch_template, "version": "$Latest"},
        "ec2Configuration": [{"imageType": cfg.image_type, "imageIdOverride": ami}],
        "tags": dict(cfg.tags),
    }
    if cfg.provisioning == "SPOT":
        resources["bidPercentage"] = cfg.bid_percentage
    request: dict[str, Any] = {
        "computeEnvironmentName": cfg.compute_environment,
        "type": "MANAGED",
        "state": "ENABLED",
        "computeResources": resources,
        "tags": dict(cfg.tags),
    }
    if cfg.service_role_arn:
        request["serviceRole"] = cfg.service_role_arn
    return request


def job_queue_request(cfg: BatchConfig) -> dict[str, Any]:
    """``batch.create_job_queue`` on the compute environment."""
    return {
        "jobQueueName": cfg.job_queue,
        "state": "ENABLED",
        "priority": cfg.queue_priority,
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": cfg.compute_environment}],
        "tags": dict(cfg.tags),
    }


def job_definition_request(cfg: BatchConfig, config_url: str) -> dict[str, Any]:
    """``batch.register_job_definition``: EC2 container, scratch volume, Spot-aware retries.

    The request carries the tag :data:`SPEC_TAG`, a hash of everything else in it, so that a
    submit registers a new revision only when something changed.
    """
    environment = {**cfg.environment, CONFIG_ENV: config_url}
    container: dict[str, Any] = {
        "image": cfg.image,
        "command": [*cfg.command, "--config", config_url],
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
            # First match wins: retry Spot reclaims, give up on anything else (a bug or bad
            # input fails the same way again and would only cost money).
            "evaluateOnExit": [
                {"onStatusReason": SPOT_RECLAIM_REASON, "action": "RETRY"},
                {"onReason": "*", "action": "EXIT"},
            ],
        },
        "timeout": {"attemptDurationSeconds": cfg.timeout_s},
    }
    request["tags"] = {**cfg.tags, SPEC_TAG: spec_hash(request)}
    return request


def spec_hash(request: dict[str, Any]) -> str:
    """SHA-256 of a request without its tags (stable key order)."""
    body = {k: v for k, v in request.items() if k != "tags"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def submit_job_request(
    cfg: BatchConfig, size: int, shard_map: list[int] | None, job_name: str | None = None
) -> dict[str, Any]:
    """``batch.submit_job``: an array job of ``size`` children, a plain job when ``size`` is 1.

    With ``shard_map``, child ``i`` runs shard ``shard_map[i]`` (environment
    :data:`SHARD_MAP_ENV`); without it child ``i`` runs shard ``i``.
    """
    request: dict[str, Any] = {
        "jobName": job_name or cfg.job_name,
        "jobQueue": cfg.job_queue,
        "jobDefinition": cfg.job_definition,
    }
    if size > 1:
        request["arrayProperties"] = {"size": size}
    if shard_map is not None:
        request["containerOverrides"] = {
            "environment": [{"name": SHARD_MAP_ENV, "value": format_shard_map(shard_map)}]
        }
    request["tags"] = dict(cfg.tags)
    request["propagateTags"] = True
    return request


def format_shard_map(shard_map: list[int]) -> str:
    """``[3, 7, 11]`` -> ``"3,7,11"`` (the value of :data:`SHARD_MAP_ENV`)."""
    return ",".join(str(int(i)) for i in shard_map)


def build_plan(
    cfg: BatchConfig,
    *,
    ami: str,
    config_url: str,
    size: int,
    shard_map: list[int] | None,
    job_name: str | None = None,
) -> SubmitPlan:
    """All requests of a submit; the single source for ``--dry-run`` and the real thing."""
    return SubmitPlan(
        create_launch_template=launch_template_request(cfg),
        create_compute_environment=compute_environment_request(cfg, ami),
        create_job_queue=job_queue_request(cfg),
        register_job_definition=job_definition_request(cfg, config_url),
        submit_job=submit_job_request(cfg, size, shard_map, job_name),
    )
