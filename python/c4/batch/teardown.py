"""``c4 teardown``: remove everything ``c4 submit`` created, in the order AWS requires.

1. the job queue: DISABLED first, then deleted ("DeleteJobQueue": "you must first set its
   state to DISABLED"; jobs still in it are terminated, so c4 refuses while any is active
   unless forced);
2. every compute environment of ``batch.compute_environment`` (blue/green replacements too):
   DISABLED, then deleted once no queue uses it ("DeleteComputeEnvironment");
3. every ACTIVE revision of the job definition (deregistered: AWS keeps them INACTIVE);
4. the launch template, 5. the log group (unless kept).

The results, the config on S3, the AMI, the ECR image and the IAM roles stay: they are yours
(docs/aws.md lists the commands that remove them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from c4.batch.config import BatchConfig
from c4.batch.environment import KIND, c4_environments, running_tasks
from c4.batch.resources import BatchResourceError, wait_valid

ACTIVE_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
GONE_TIMEOUT_S = 600.0


class TeardownRefused(ValueError):
    """Jobs are still active in the queue (pass force to terminate them)."""


@dataclass
class TeardownReport:
    """One line per resource: what was (or, in a dry run, would be) removed."""

    lines: list[str] = field(default_factory=list)


def active_jobs(batch: Any, queue: str) -> dict[str, int]:
    """Jobs of ``queue`` per active state (only states with jobs)."""
    counts = {}
    for state in ACTIVE_STATES:
        n = 0
        for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=state):
            n += len(page["jobSummaryList"])
        if n:
            counts[state] = n
    return counts


def _wait_gone(describe: Any, timeout_s: float) -> bool:
    """Poll ``describe()`` (None or a status) until the resource is gone or DELETED."""
    deadline, delay = time.monotonic() + timeout_s, 0.2
    while True:
        status = describe()
        if status in (None, "DELETED"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 10.0)


def teardown(session: Any, cfg: BatchConfig, *, dry_run: bool = False, force: bool = False,
             keep_logs: bool = False, wait_s: float = GONE_TIMEOUT_S) -> TeardownReport:
    """Remove c4's Batch, EC2 and Logs resources of ``cfg``; see the module docstring."""
    batch, ec2 = session.client("batch"), session.client("ec2")
    logs, ecs = session.client("logs"), session.client("ecs")
    report = TeardownReport()
    say = report.lines.append
    verb = "would delete" if dry_run else "deleted"

    queues = batch.describe_job_queues(jobQueues=[cfg.job_queue])["jobQueues"]
    queue = queues[0] if queues and queues[0].get("status") != "DELETED" else None
    if queue is not None:
        active = active_jobs(batch, cfg.job_queue)
        if active and not force:
            listed = ", ".join(f"{n} {s}" for s, n in active.items())
            raise TeardownRefused(
                f"job queue {cfg.job_queue} still has jobs ({listed}); wait for them, cancel "
                "them, or pass --force to have AWS terminate them"
            )
        if not dry_run:
            if queue.get("state") != "DISABLED":
                batch.update_job_queue(jobQueue=cfg.job_queue, state="DISABLED")
                wait_valid(batch, "job queue", cfg.job_queue, wait_s)
            batch.delete_job_queue(jobQueue=cfg.job_queue)

            def queue_status() -> str | None:
                found = batch.describe_job_queues(jobQueues=[cfg.job_queue])["jobQueues"]
                return str(found[0].get("status")) if found else None

            if not _wait_gone(queue_status, wait_s):
                raise BatchResourceError(f"job queue {cfg.job_queue} is still being deleted")
        say(f"job queue {cfg.job_queue}: {verb}"
            + (f" (terminating {sum(active.values())} job(s))" if active else ""))

    for env in c4_environments(batch, cfg.compute_environment):
        name = env["computeEnvironmentName"]
        busy = running_tasks(ecs, env)
        if not dry_run:
            if env.get("state") != "DISABLED":
                batch.update_compute_environment(computeEnvironment=name, state="DISABLED")
            try:
                wait_valid(batch, KIND, name, wait_s)
            except BatchResourceError as exc:
                if "INVALID" not in str(exc):  # an INVALID environment can still be deleted
                    raise
            batch.delete_compute_environment(computeEnvironment=name)
        say(f"{KIND} {name}: {verb}" + (f" ({busy} task(s) still running)" if busy else ""))

    revisions = [
        jd["revision"]
        for page in batch.get_paginator("describe_job_definitions").paginate(
            jobDefinitionName=cfg.job_definition, status="ACTIVE")
        for jd in page["jobDefinitions"]
    ]
    for revision in sorted(revisions):
        if not dry_run:
            batch.deregister_job_definition(jobDefinition=f"{cfg.job_definition}:{revision}")
    if revisions:
        say(f"job definition {cfg.job_definition}: {len(revisions)} revision(s) "
            + ("would be deregistered" if dry_run else "deregistered"))

    try:
        ec2.describe_launch_templates(LaunchTemplateNames=[cfg.launch_template])
        if not dry_run:
            ec2.delete_launch_template(LaunchTemplateName=cfg.launch_template)
        say(f"launch template {cfg.launch_template}: {verb}")
    except ClientError as exc:
        if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
            raise

    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=cfg.log_group)["logGroups"]
              if g["logGroupName"] == cfg.log_group]
    if groups and keep_logs:
        say(f"log group {cfg.log_group}: kept (--keep-logs)")
    elif groups:
        if not dry_run:
            logs.delete_log_group(logGroupName=cfg.log_group)
        say(f"log group {cfg.log_group}: {verb}")
    if not report.lines:
        say("nothing to remove: no c4 resource of this config exists in the region")
    return report
