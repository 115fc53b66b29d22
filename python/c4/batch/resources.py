"""Create or update the Batch resources by name, idempotently.

Each ``ensure_*`` function looks the resource up, creates it from the request of
:mod:`c4.batch.requests` when absent, updates only what differs when present, and reports what
it did. A job definition gets a new revision only when its request changed (tag
:data:`c4.batch.requests.SPEC_TAG`), so repeated submits leave no trail of identical revisions.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from c4.batch.requests import SPEC_TAG

log = logging.getLogger(__name__)

WAIT_TIMEOUT_S = 600.0
"""How long to wait for a compute environment or queue to become VALID, seconds."""


class BatchResourceError(RuntimeError):
    """A resource exists in a state c4 cannot fix by updating it."""


@dataclass(frozen=True)
class ResourceResult:
    """What ``ensure_*`` did: ``action`` is created, updated, unchanged or new revision."""

    kind: str
    name: str
    action: str
    arn: str


def ensure_launch_template(ec2: Any, request: dict[str, Any]) -> ResourceResult:
    """Create the launch template, or add a version when its data differ from ``request``."""
    name = request["LaunchTemplateName"]
    try:
        found = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
    except ClientError as exc:
        if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
            raise
        found = []
    if not found:
        made = ec2.create_launch_template(**request)["LaunchTemplate"]
        return ResourceResult("launch template", name, "created", made["LaunchTemplateId"])
    template_id = found[0]["LaunchTemplateId"]
    latest = ec2.describe_launch_template_versions(
        LaunchTemplateName=name, Versions=["$Latest"]
    )["LaunchTemplateVersions"][0]
    if _contains(latest.get("LaunchTemplateData", {}), request["LaunchTemplateData"]):
        return ResourceResult("launch template", name, "unchanged", template_id)
    ec2.create_launch_template_version(
        LaunchTemplateName=name,
        LaunchTemplateData=request["LaunchTemplateData"],
        VersionDescription="c4 submit",
    )
    return ResourceResult("launch template", name, "updated", template_id)


_CE_UPDATABLE = (
    "minvCpus", "maxvCpus", "instanceTypes", "subnets", "securityGroupIds", "allocationStrategy",
    "bidPercentage", "launchTemplate", "ec2Configuration", "instanceRole",
)


def ensure_compute_environment(
    batch: Any, request: dict[str, Any], *, wait_s: float = WAIT_TIMEOUT_S
) -> ResourceResult:
    """Create the compute environment or update the fields that differ; wait until VALID."""
    name = request["computeEnvironmentName"]
    found = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    if not found:
        made = batch.create_compute_environment(**request)
        _wait_valid(batch, "compute environment", name, wait_s)
        return ResourceResult("compute environment", name, "created", made["computeEnvironmentArn"])
    current = found[0]
    have, want = current.get("computeResources", {}), request["computeResources"]
    if have.get("type") != want["type"] or current.get("type") != request["type"]:
        raise BatchResourceError(
            f"compute environment {name} is {current.get('type')}/{have.get('type')}, c4 wants "
            f"{request['type']}/{want['type']}; AWS cannot change that: delete it or set "
            "batch.compute_environment to a new name"
        )
    changes: dict[str, Any] = {}
    for key in _CE_UPDATABLE:
        if key not in want:
            continue
        if key == "instanceRole":
            same = _same_name(have.get(key), want[key])
        elif key in ("instanceTypes", "subnets", "securityGroupIds"):
            same = sorted(have.get(key) or []) == sorted(want[key])
        else:
            same = have.get(key) == want[key]
        if not same:
            changes[key] = want[key]
    update: dict[str, Any] = {}
    if changes:
        update["computeResources"] = changes
    if current.get("state") != request["state"]:
        update["state"] = request["state"]
    role = request.get("serviceRole")
    if role and not _same_name(current.get("serviceRole"), role):
        update["serviceRole"] = role
    arn = current["computeEnvironmentArn"]
    if not update:
        return ResourceResult("compute environment", name, "unchanged", arn)
    log.info("updating compute environment %s: %s", name, sorted(update))
    batch.update_compute_environment(computeEnvironment=name, **update)
    _wait_valid(batch, "compute environment", name, wait_s)
    return ResourceResult("compute environment", name, "updated", arn)


def ensure_job_queue(
    batch: Any, request: dict[str, Any], *, wait_s: float = WAIT_TIMEOUT_S
) -> ResourceResult:
    """Create the job queue or update its state, priority and compute environment."""
    name = request["jobQueueName"]
    found = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    if not found:
        made = batch.create_job_queue(**request)
        _wait_valid(batch, "job queue", name, wait_s)
        return ResourceResult("job queue", name, "created", made["jobQueueArn"])
    current = found[0]
    have_order = [
        (o["order"], o["computeEnvironment"].rsplit("/", 1)[-1])
        for o in current.get("computeEnvironmentOrder", [])
    ]
    want_order = [(o["order"], o["computeEnvironment"]) for o in request["computeEnvironmentOrder"]]
    if (
        current.get("state") == request["state"]
        and current.get("priority") == request["priority"]
        and sorted(have_order) == sorted(want_order)
    ):
        return ResourceResult("job queue", name, "unchanged", current["jobQueueArn"])
    batch.update_job_queue(
        jobQueue=name,
        state=request["state"],
        priority=request["priority"],
        computeEnvironmentOrder=request["computeEnvironmentOrder"],
    )
    _wait_valid(batch, "job queue", name, wait_s)
    return ResourceResult("job queue", name, "updated", current["jobQueueArn"])


def ensure_job_definition(batch: Any, request: dict[str, Any]) -> ResourceResult:
    """Register a new revision only when the latest ACTIVE one was made from another request."""
    name = request["jobDefinitionName"]
    latest = latest_job_definition(batch, name)
    if latest is not None and latest.get("tags", {}).get(SPEC_TAG) == request["tags"][SPEC_TAG]:
        return ResourceResult("job definition", name, "unchanged", latest["jobDefinitionArn"])
    made = batch.register_job_definition(**request)
    action = "created" if latest is None else "new revision"
    return ResourceResult("job definition", name, action, made["jobDefinitionArn"])


def latest_job_definition(batch: Any, name: str) -> dict[str, Any] | None:
    """The ACTIVE revision of ``name`` with the highest number, or None."""
    best: dict[str, Any] | None = None
    pages = batch.get_paginator("describe_job_definitions").paginate(
        jobDefinitionName=name, status="ACTIVE"
    )
    for page in pages:
        for jd in page["jobDefinitions"]:
            if best is None or jd["revision"] > best["revision"]:
                best = jd
    return best


def _wait_valid(batch: Any, kind: str, name: str, timeout_s: float) -> None:
    """Poll until the compute environment / queue is VALID; error if INVALID or too slow."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        if kind == "job queue":
            items = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
        else:
            items = batch.describe_compute_environments(computeEnvironments=[name])[
                "computeEnvironments"
            ]
        status = items[0].get("status") if items else None
        if status == "VALID":
            return
        if status == "INVALID":
            reason = items[0].get("statusReason", "no reason given")
            raise BatchResourceError(f"{kind} {name} is INVALID: {reason}")
        if time.monotonic() > deadline:
            raise BatchResourceError(f"{kind} {name} is still {status} after {timeout_s:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 10.0)


def _same_name(have: str | None, want: str) -> bool:
    """ARN or name equality: AWS returns ARNs where a name was given."""
    if have is None:
        return False
    return have == want or have.rsplit("/", 1)[-1] == want.rsplit("/", 1)[-1]


def _contains(have: Any, want: Any) -> bool:
    """True when every key/value of ``want`` is in ``have`` (lists element-wise)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and _contains(have[k], v) for k, v in want.items()
        )
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(have) == len(want)
            and all(_contains(h, w) for h, w in zip(have, want, strict=True))
        )
    return bool(have == want)
