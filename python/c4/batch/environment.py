"""The compute environment: create it, update it the way AWS allows, or replace it blue/green.

AWS Batch ("Update a compute environment", user guide; UpdateComputeEnvironment, API reference)
has two in-place updates:

- a **scaling update** changes only ``minvCpus``, ``maxvCpus``, ``desiredvCpus``,
  ``serviceRole`` or ``state``; any environment may take it. c4 never sends ``desiredvCpus`` in
  an update: Batch manages it, and "the updated desiredvCpus value must be greater than or equal
  to the current desiredvCpus value";
- an **infrastructure update** (any of :data:`INFRASTRUCTURE_KEYS`: instance types, AMI,
  launch template, subnets, ...) replaces the instances. It "requires the AWSServiceRoleForBatch
  service-linked role and an allocation strategy of BEST_FIT_PROGRESSIVE,
  SPOT_CAPACITY_OPTIMIZED, or SPOT_PRICE_CAPACITY_OPTIMIZED"; running jobs are handled by the
  ``updatePolicy`` c4 sends (:func:`c4.batch.requests.update_policy`). The environment stays
  usable while UPDATING, so the submit goes on.

Where an infrastructure update is not allowed (a custom service role, a change of service role,
an INVALID environment), c4 does what the guide prescribes ("Perform blue/green updates"): it
creates a new environment ``<name>-<hash>`` from the request, points the queue at it, disables
the old one and deletes it once no task runs there (:func:`retire_environments`, also run by
every later submit and by ``c4 teardown``). Descriptions are compared only on the keys c4 sets.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from c4.batch.requests import BASE_TAG
from c4.batch.resources import (
    WAIT_TIMEOUT_S,
    BatchResourceError,
    ResourceResult,
    contains,
    same_name,
    wait_valid,
)

log = logging.getLogger(__name__)

KIND = "compute environment"
SCALING_KEYS = ("minvCpus", "maxvCpus")
INFRASTRUCTURE_KEYS = (
    "type", "allocationStrategy", "bidPercentage", "instanceTypes", "subnets",
    "securityGroupIds", "instanceRole", "launchTemplate", "ec2Configuration", "tags",
)
INFRASTRUCTURE_STRATEGIES = frozenset(
    {"BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"}
)
LINKED_ROLE = "AWSServiceRoleForBatch"
"""Name of Batch's service-linked role (its ARN has the path aws-service-role/batch...)."""


@dataclass
class EnvironmentOutcome:
    """What :func:`ensure_compute_environment` did and which environment the queue must use."""

    result: ResourceResult
    use: str
    """Name of the environment the job queue must point at."""
    update: dict[str, Any] | None = None
    """The ``update_compute_environment`` parameters sent, if any."""
    notes: list[str] = field(default_factory=list)


def is_linked_role(role: str | None) -> bool:
    """True for Batch's service-linked role (or None: Batch uses it when no role is given)."""
    return role is None or role.rsplit("/", 1)[-1].lower() == LINKED_ROLE.lower()


def replacement_name(request: dict[str, Any]) -> str:
    """``<name>-<8 hex>`` of a blue/green replacement, from what defines the environment."""
    body = {k: v for k, v in request.items() if k not in ("computeEnvironmentName", "tags")}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    return f"{request['computeEnvironmentName']}-{digest}"


def describe(batch: Any, name: str) -> dict[str, Any] | None:
    """The described environment ``name`` (or ARN), or None."""
    found = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    return dict(found[0]) if found else None


def c4_environments(batch: Any, base: str) -> list[dict[str, Any]]:
    """Every environment c4 made for ``batch.compute_environment = base`` (tag or name)."""
    out = []
    for page in batch.get_paginator("describe_compute_environments").paginate():
        for env in page["computeEnvironments"]:
            if env["computeEnvironmentName"] == base or (env.get("tags") or {}).get(
                    BASE_TAG) == base:
                out.append(dict(env))
    return out


def queue_environments(batch: Any, queue: str) -> list[str]:
    """Names of the environments ``queue`` uses, in order ([] when there is no queue)."""
    found = batch.describe_job_queues(jobQueues=[queue])["jobQueues"]
    if not found:
        return []
    order = sorted(found[0].get("computeEnvironmentOrder") or [], key=lambda o: o["order"])
    return [o["computeEnvironment"].rsplit("/", 1)[-1] for o in order]


def _current(batch: Any, base: str, queue: str) -> dict[str, Any] | None:
    """The environment of ``base`` that the queue uses now, else the one named ``base``."""
    for name in queue_environments(batch, queue):
        env = describe(batch, name)
        if env and (name == base or (env.get("tags") or {}).get(BASE_TAG) == base):
            return env
    return describe(batch, base)


def _same(key: str, have: Any, want: Any) -> bool:
    if key == "instanceRole":
        return same_name(have, want)
    if key in ("instanceTypes", "subnets", "securityGroupIds"):
        return sorted(have or []) == sorted(want)
    if key in ("launchTemplate", "ec2Configuration", "tags"):
        return contains(have, want)
    return bool(have == want)


def differences(current: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The ``computeResources`` keys c4 sets whose described value differs from the request."""
    have, want = current.get("computeResources") or {}, request["computeResources"]
    return {
        key: want[key]
        for key in (*SCALING_KEYS, *INFRASTRUCTURE_KEYS)
        if key in want and not _same(key, have.get(key), want[key])
    }


def running_tasks(ecs: Any, env: dict[str, Any]) -> int | None:
    """Tasks (jobs) running or starting on the environment's ECS cluster; None if unknown."""
    arn = env.get("ecsClusterArn")
    if ecs is None or not arn:
        return None
    try:
        clusters = ecs.describe_clusters(clusters=[arn])["clusters"]
    except ClientError:
        return None
    if not clusters:
        return 0
    return int(clusters[0].get("runningTasksCount", 0)) + int(
        clusters[0].get("pendingTasksCount", 0))


@dataclass(frozen=True)
class UpdateDecision:
    """How an existing environment becomes the requested one (see the module docstring).

    ``kind``: unchanged, invalid (nothing to change but AWS calls it INVALID), enable (only
    DISABLED), scaling, infrastructure or blue-green. ``changes``: the computeResources keys
    that differ, with the requested values.
    """

    kind: str
    changes: dict[str, Any]
    why: str = ""


def decide_update(current: dict[str, Any], request: dict[str, Any]) -> UpdateDecision:
    """What AWS allows for ``current`` (a described environment) to match ``request``."""
    changes = differences(current, request)
    infra = [k for k in changes if k in INFRASTRUCTURE_KEYS]
    role_change = not (
        same_name(current.get("serviceRole"), request["serviceRole"])
        if request.get("serviceRole") else is_linked_role(current.get("serviceRole"))
    )
    status = current.get("status")
    reason = current.get("statusReason") or "no reason given"
    if not changes and not role_change:
        if status == "INVALID":
            return UpdateDecision("invalid", {}, reason)
        if current.get("state") != "ENABLED":
            return UpdateDecision("enable", {})
        return UpdateDecision("unchanged", {})
    if status == "INVALID":
        return UpdateDecision("blue-green", changes, f"it is INVALID ({reason})")
    if role_change:
        return UpdateDecision("blue-green", changes, "its service role changes")
    if not infra:
        return UpdateDecision("scaling", changes)
    strategies = (
        (current.get("computeResources") or {}).get("allocationStrategy"),
        request["computeResources"].get("allocationStrategy"),
    )
    if is_linked_role(current.get("serviceRole")) and all(
            s in INFRASTRUCTURE_STRATEGIES for s in strategies):
        return UpdateDecision("infrastructure", changes)
    return UpdateDecision(
        "blue-green", changes,
        "AWS allows infrastructure updates only with the AWSServiceRoleForBatch service-linked "
        "role and a BEST_FIT_PROGRESSIVE or SPOT_* allocation strategy",
    )


def ensure_compute_environment(
    batch: Any, request: dict[str, Any], update_policy: dict[str, Any], *, queue: str,
    ecs: Any = None, wait_s: float = WAIT_TIMEOUT_S,
) -> EnvironmentOutcome:
    """Create, update in place, or replace blue/green the environment of ``request``."""
    base = request["computeEnvironmentName"]
    current = _current(batch, base, queue)
    if current is None:
        made = batch.create_compute_environment(**request)
        wait_valid(batch, KIND, base, wait_s)
        return EnvironmentOutcome(
            ResourceResult(KIND, base, "created", made["computeEnvironmentArn"]), base)
    name, arn = current["computeEnvironmentName"], current["computeEnvironmentArn"]
    if current.get("type") != request["type"]:
        raise BatchResourceError(
            f"{KIND} {name} is {current.get('type')}, c4 wants {request['type']}; AWS cannot "
            "change that: delete it (c4 teardown) or set batch.compute_environment to a new name"
        )
    decision = decide_update(current, request)
    changes, notes = decision.changes, []
    if decision.kind == "invalid":
        raise BatchResourceError(
            f"{KIND} {name} is INVALID: {decision.why}. Fix the cause (roles, subnets, AMI) and "
            "submit again, or remove it with c4 teardown"
        )
    if decision.kind == "enable":
        update = {"computeEnvironment": name, "state": "ENABLED"}
        batch.update_compute_environment(**update)
        return EnvironmentOutcome(ResourceResult(KIND, name, "updated", arn,
                                                 "re-enabled (it was DISABLED)"), name, update)
    if decision.kind == "unchanged":
        if current.get("status") == "UPDATING":
            notes.append(f"{KIND} {name} is still UPDATING; jobs start once it has instances")
        return EnvironmentOutcome(ResourceResult(KIND, name, "unchanged", arn), name,
                                  notes=notes)
    if decision.kind in ("scaling", "infrastructure"):
        update = {"computeEnvironment": name, "computeResources": changes}
        if current.get("state") != "ENABLED":
            update["state"] = "ENABLED"
        if decision.kind == "infrastructure":
            update["updatePolicy"] = dict(update_policy)
            busy = running_tasks(ecs, current)
            if busy:
                notes.append(
                    f"{busy} job(s) run on {name}: its instances are replaced; running jobs get "
                    f"{update_policy['jobExecutionTimeoutMinutes']} min to finish, then stop "
                    "and are retried (they resume from their finished days)"
                )
        log.info("updating %s %s in place: %s", KIND, name, sorted(changes))
        batch.update_compute_environment(**update)
        detail = f"{decision.kind} update: {', '.join(sorted(changes))}"
        return EnvironmentOutcome(ResourceResult(KIND, name, "updated", arn, detail), name,
                                  update=update, notes=notes)

    green = replacement_name(request)
    existing = describe(batch, green)
    if existing is None:
        made = batch.create_compute_environment(**{**request, "computeEnvironmentName": green})
        green_arn = made["computeEnvironmentArn"]
    else:
        if existing.get("state") != "ENABLED":
            batch.update_compute_environment(computeEnvironment=green, state="ENABLED")
        green_arn = existing["computeEnvironmentArn"]
    wait_valid(batch, KIND, green, wait_s)
    notes.append(f"{name} is replaced by {green} (blue/green, because {decision.why}); {name} "
                 "is disabled and deleted once its running jobs finish")
    detail = f"blue/green: {name} -> {green} ({', '.join(sorted(changes)) or 'service role'})"
    return EnvironmentOutcome(ResourceResult(KIND, green, "replaced", green_arn, detail), green,
                              notes=notes)


def retire_environments(
    batch: Any, ecs: Any, base: str, queue: str, *, keep: str | None = None,
    settle_s: float = 120.0,
) -> list[str]:
    """Disable every environment of ``base`` that ``queue`` no longer uses (except ``keep``)
    and delete those with no task left; returns one line per environment touched.

    DeleteComputeEnvironment: "Before you can delete a compute environment, you must set its
    state to DISABLED ... and disassociate it from any job queues". Disabling lets running jobs
    finish ("Jobs in a STARTING or RUNNING state continue to progress normally"); deleting
    would end them, so an environment with tasks (or when ECS cannot say) is kept for later.
    """
    used = set(queue_environments(batch, queue)) | ({keep} if keep else set())
    lines = []
    for env in c4_environments(batch, base):
        name = env["computeEnvironmentName"]
        if name in used:
            continue
        if env.get("state") == "ENABLED":
            batch.update_compute_environment(computeEnvironment=name, state="DISABLED")
        busy = running_tasks(ecs, env)
        if busy is None or busy:
            count = "an unknown number of" if busy is None else str(busy)
            lines.append(f"{KIND} {name}: disabled, kept while {count} task(s) run there; the "
                         "next submit or c4 teardown deletes it")
            continue
        if not _settle(batch, name, settle_s):
            lines.append(f"{KIND} {name}: disabled, still UPDATING; the next submit or "
                         "c4 teardown deletes it")
            continue
        try:
            batch.delete_compute_environment(computeEnvironment=name)
        except ClientError as exc:
            lines.append(f"{KIND} {name}: disabled, not deleted yet ({exc}); the next submit "
                         "or c4 teardown retries")
            continue
        lines.append(f"{KIND} {name}: deleted (no longer used by {queue})")
    return lines


def _settle(batch: Any, name: str, timeout_s: float) -> bool:
    """Wait until ``name`` is no longer CREATING/UPDATING; False after ``timeout_s``."""
    try:
        wait_valid(batch, KIND, name, timeout_s)
    except BatchResourceError as exc:
        return "INVALID" in str(exc)  # an INVALID environment can still be deleted
    return True
