"""Create or update the log group, launch template, job queue and job definition by name.

Each ``ensure_*`` function looks the resource up, creates it from the request of
:mod:`c4.batch.requests` when absent, updates only what differs when present (comparing only
the keys c4 sets: AWS adds its own), and reports what it did. A launch template gets a new
version only when no existing version has c4's data, and a job definition a new revision only
when its request changed (tag :data:`c4.batch.requests.SPEC_TAG`), so repeated submits leave
no trail. The compute environment, with AWS's update rules, is :mod:`c4.batch.environment`.
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
    """What ``ensure_*`` did: ``action`` is created, updated, unchanged, new version, new
    revision or replaced; ``detail`` says more (the version pinned, the update kind, ...)."""

    kind: str
    name: str
    action: str
    arn: str
    detail: str = ""


def ensure_log_group(logs: Any, create: dict[str, Any], retention: dict[str, Any]
                     ) -> ResourceResult:
    """Create the job log group unless it exists; set its retention when it differs."""
    name = create["logGroupName"]
    found = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
             if g["logGroupName"] == name]
    action = "unchanged"
    if not found:
        logs.create_log_group(**create)
        action = "created"
    if not found or found[0].get("retentionInDays") != retention["retentionInDays"]:
        logs.put_retention_policy(**retention)
        action = action if action == "created" else "updated"
    return ResourceResult("log group", name, action, name,
                          f"retention {retention['retentionInDays']} days")


def ensure_launch_template(ec2: Any, request: dict[str, Any]) -> tuple[ResourceResult, int]:
    """Create the launch template, or find the version whose data equal ``request``'s, or add
    one; returns the result and that version's number (what the environment pins)."""
    name = request["LaunchTemplateName"]
    try:
        found = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
    except ClientError as exc:
        if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
            raise
        found = []
    if not found:
        made = ec2.create_launch_template(**request)["LaunchTemplate"]
        version = int(made.get("LatestVersionNumber") or 1)
        return (ResourceResult("launch template", name, "created", made["LaunchTemplateId"],
                               f"version {version}"), version)
    template_id = found[0]["LaunchTemplateId"]
    versions = [
        v for page in ec2.get_paginator("describe_launch_template_versions").paginate(
            LaunchTemplateName=name)
        for v in page["LaunchTemplateVersions"]
    ]
    for v in sorted(versions, key=lambda v: -int(v["VersionNumber"])):
        if contains(v.get("LaunchTemplateData", {}), request["LaunchTemplateData"]):
            number = int(v["VersionNumber"])
            return (ResourceResult("launch template", name, "unchanged", template_id,
                                   f"version {number}"), number)
    made = ec2.create_launch_template_version(
        LaunchTemplateName=name,
        LaunchTemplateData=request["LaunchTemplateData"],
        VersionDescription="c4 submit",
    )["LaunchTemplateVersion"]
    number = int(made["VersionNumber"])
    return (ResourceResult("launch template", name, "new version", template_id,
                           f"version {number}"), number)


def ensure_job_queue(
    batch: Any, request: dict[str, Any], *, wait_s: float = WAIT_TIMEOUT_S
) -> ResourceResult:
    """Create the job queue or update its state, priority and compute environment."""
    name = request["jobQueueName"]
    found = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    if not found:
        made = batch.create_job_queue(**request)
        wait_valid(batch, "job queue", name, wait_s)
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
        if current.get("status") == "INVALID":
            raise BatchResourceError(
                f"job queue {name} is INVALID: {current.get('statusReason', 'no reason given')}"
                "; fix it in the console or delete it (c4 teardown) and submit again"
            )
        return ResourceResult("job queue", name, "unchanged", current["jobQueueArn"])
    # UpdateJobQueue takes names or ARNs; ARNs are unambiguous (and all moto accepts).
    order = [{**o, "computeEnvironment": _environment_arn(batch, o["computeEnvironment"])}
             for o in request["computeEnvironmentOrder"]]
    batch.update_job_queue(
        jobQueue=name,
        state=request["state"],
        priority=request["priority"],
        computeEnvironmentOrder=order,
    )
    wait_valid(batch, "job queue", name, wait_s)
    return ResourceResult("job queue", name, "updated", current["jobQueueArn"])


def _environment_arn(batch: Any, name: str) -> str:
    found = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    return str(found[0]["computeEnvironmentArn"]) if found else name


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


def wait_valid(batch: Any, kind: str, name: str, timeout_s: float) -> None:
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


def same_name(have: str | None, want: str) -> bool:
    """ARN or name equality: AWS returns ARNs where a name was given."""
    if have is None:
        return False
    return have == want or have.rsplit("/", 1)[-1] == want.rsplit("/", 1)[-1]


def contains(have: Any, want: Any) -> bool:
    """True when every key/value of ``want`` is in ``have`` (lists element-wise)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and contains(have[k], v) for k, v in want.items()
        )
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(have) == len(want)
            and all(contains(h, w) for h, w in zip(have, want, strict=True))
        )
    return bool(have == want)
