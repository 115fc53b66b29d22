"""``c4 submit``: pick the shards, validate, estimate, build the requests, then send them.

Order of work: shard selection, validation (:mod:`c4.batch.validate`, :mod:`c4.batch.rules`,
:mod:`c4.batch.ami`) and the estimate touch no network, then
:func:`c4.batch.requests.build_plan` makes every request. A dry run stops there and prints the
plan, the estimate and every problem; a real submit refuses on any problem, then passes the
same plan to :func:`send_plan`, which reads (AMI, image digest) before it creates anything.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from c4.batch.ami import AmiChoice, ami_problems, describe_problems, resolve_ami
from c4.batch.config import BatchConfig
from c4.batch.environment import ensure_compute_environment, retire_environments
from c4.batch.estimate import CampaignSize, Estimate, estimate
from c4.batch.preflight import resolve_image
from c4.batch.requests import (
    CONFIG_ENV,
    SubmitPlan,
    build_plan,
    index_of_command,
    job_definition_request,
    update_policy,
)
from c4.batch.resources import (
    ResourceResult,
    ensure_job_definition,
    ensure_job_queue,
    ensure_launch_template,
    ensure_log_group,
)
from c4.batch.rules import plan_problems, update_policy_problems
from c4.batch.validate import BatchValidationError, check_real_submit, check_submit
from c4.config import Config
from c4.shards import SHARD_MAP_ENV, n_shards, parse_shard_map, shard_for_child


class SubmitError(ValueError):
    """A submit that cannot go ahead (bad shard selection, nothing to re-run, ...)."""


@dataclass(frozen=True)
class Selection:
    """Which shards a job runs: child ``i`` runs ``shards[i]``; ``shard_map`` is None when
    ``shards`` is ``0..n-1`` and ``explicit`` is False (no map needs to travel with the job)."""

    shards: list[int]
    explicit: bool = False

    @property
    def size(self) -> int:
        """Number of array children."""
        return len(self.shards)

    @property
    def shard_map(self) -> list[int] | None:
        """The index map to pass as C4_SHARD_MAP, or None for the identity."""
        identity = self.shards == list(range(len(self.shards)))
        return None if identity and not self.explicit else list(self.shards)


def _month_number(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def select_shards(config: Config, months: int | None, start: str | None) -> Selection:
    """Shards for ``--months N [--start YYYY-MM]`` within the config's ``data.start..end``.

    Without ``months`` every shard of the config is selected; ``start`` defaults to the config's
    first month. Shards are counted by :mod:`c4.shards`.
    """
    total = n_shards(config)
    offset = 0
    if start is not None:
        if config.data.shard != "month":
            raise SubmitError("--start needs data.shard = 'month'; with day shards set data.start")
        try:
            first = dt.datetime.strptime(start.strip(), "%Y-%m").date()
        except ValueError:
            raise SubmitError(f"--start {start!r}: expected YYYY-MM, e.g. 2017-01") from None
        offset = _month_number(first) - _month_number(config.data.start)
        if offset < 0:
            raise SubmitError(
                f"--start {start} is before data.start = {config.data.start} of the config"
            )
    count = total - offset if months is None else months
    if count < 1:
        raise SubmitError(f"--months {count}: need at least one month")
    if offset + count > total:
        raise SubmitError(
            f"shards {offset}..{offset + count - 1} requested but the config covers {total} "
            f"{config.data.shard}(s) (data.start = {config.data.start}, "
            f"data.end = {config.data.end}); extend data.end or submit fewer months"
        )
    return Selection(list(range(offset, offset + count)))


@dataclass
class Prepared:
    """A validated plan with its estimate, ready to print (dry run) or send.

    ``errors`` are what a real submit refuses (a dry run lists them beside the estimate);
    ``warnings`` what it would only mention.
    """

    plan: SubmitPlan
    selection: Selection
    estimate: Estimate
    ami: AmiChoice
    batch: BatchConfig
    config_url: str
    region: str | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def prepare(
    config: Config, selection: Selection, *, config_url: str, size: CampaignSize,
    job_name: str | None = None, region: str | None = None, strict: bool = True,
) -> Prepared:
    """Validate, estimate and build every request; no network.

    With ``strict`` (a real submit) any error raises :class:`BatchValidationError`; otherwise
    the errors are returned with the plan, so a dry run can show both.
    """
    cfg = config.batch
    region = region or cfg.region
    errors: list[str] = []
    try:
        choice = resolve_ami(cfg, region)
    except ValueError as exc:
        errors.append(str(exc))
        choice = AmiChoice(None, "unreadable manifest")
    checks = check_submit(cfg, size=selection.size, ami=choice.ami_id)
    errors += checks.errors + ami_problems(cfg, choice, region)
    est = estimate(config, selection.shards, size, region=region)
    plan = build_plan(
        cfg, ami=choice.ami_id or "", config_url=config_url, shards=selection.shards,
        shard_map=selection.shard_map, timeout_s=est.timeout_s, region=region,
        job_name=job_name,
    )
    errors += plan_problems(plan.as_json_dict()) + check_real_submit(config, config_url)
    errors += update_policy_problems(update_policy(cfg))
    if size.assumed and cfg.timeout_s is None:
        errors.append(
            "batch.timeout_s is unset and the station count is unknown, so no timeout can be "
            "derived: pass --stations N (or local data.stations metadata) or set batch.timeout_s"
        )
    prepared = Prepared(plan, selection, est, choice, cfg, config_url, region,
                        list(dict.fromkeys(errors)), checks.warnings + est.notes)
    if strict and prepared.errors:
        raise BatchValidationError("\n".join(prepared.errors))
    return prepared


@dataclass(frozen=True)
class Submitted:
    """Result of a real submit: the job, what each resource did, and what was sent."""

    job_id: str
    job_name: str
    size: int
    shard_map: list[int] | None
    resources: list[ResourceResult]
    sent: dict[str, dict[str, Any]]
    notes: list[str]


def session_for(region: str | None) -> Any:
    """A boto3 session in ``region`` (None: the environment's default region)."""
    import boto3

    return boto3.Session(region_name=region) if region else boto3.Session()


def send_plan(prepared: Prepared, session: Any) -> Submitted:
    """Check the AMI and image (reads), then create/update the resources and submit the job,
    all from ``prepared.plan``; the three values only AWS knows are filled in on the way."""
    plan, cfg = prepared.plan, prepared.batch
    ec2, batch = session.client("ec2"), session.client("batch")
    logs, ecs = session.client("logs"), session.client("ecs")
    region = session.region_name or prepared.region
    base = plan.create_compute_environment["computeEnvironmentName"]
    queue = plan.create_job_queue["jobQueueName"]
    image = plan.register_job_definition["containerProperties"]["image"]

    problems = describe_problems(cfg, ec2, prepared.ami.ami_id or "", region or "?")
    resolved = resolve_image(session, image, region)
    problems += resolved.problems
    if problems:
        raise BatchValidationError("\n".join(problems))
    notes = list(resolved.notes)

    log_result = ensure_log_group(logs, plan.create_log_group, plan.put_retention_policy)
    lt_result, version = ensure_launch_template(ec2, plan.create_launch_template)
    ce_request = copy.deepcopy(plan.create_compute_environment)
    ce_request["computeResources"]["launchTemplate"]["version"] = str(version)
    outcome = ensure_compute_environment(batch, ce_request, update_policy(cfg), queue=queue,
                                         ecs=ecs)
    notes += outcome.notes
    queue_request = copy.deepcopy(plan.create_job_queue)
    queue_request["computeEnvironmentOrder"][0]["computeEnvironment"] = outcome.use
    queue_result = ensure_job_queue(batch, queue_request)
    jd_request = job_definition_request(
        cfg, prepared.config_url, timeout_s=prepared.estimate.timeout_s, region=prepared.region,
        image=resolved.image,
    )
    jd_result = ensure_job_definition(batch, jd_request)
    out = batch.submit_job(**plan.submit_job)
    notes += retire_environments(batch, ecs, base, queue, keep=outcome.use)
    sent = {
        "ec2.create_launch_template": plan.create_launch_template,
        "batch.create_compute_environment": ce_request,
        "batch.create_job_queue": queue_request,
        "batch.register_job_definition": jd_request,
        "batch.submit_job": plan.submit_job,
    }
    if outcome.update is not None:
        sent["batch.update_compute_environment"] = outcome.update
    return Submitted(
        job_id=out["jobId"], job_name=out["jobName"], size=prepared.selection.size,
        shard_map=prepared.selection.shard_map,
        resources=[log_result, lt_result, outcome.result, queue_result, jd_result],
        sent=sent, notes=notes,
    )


def environment_of(job: dict[str, Any]) -> dict[str, str]:
    """A described job's container environment as a dict (first value of each name wins)."""
    env: dict[str, str] = {}
    for item in (job.get("container") or {}).get("environment") or []:
        env.setdefault(item["name"], item["value"])
    return env


def shards_of_job(job: dict[str, Any], size: int) -> list[int]:
    """Shard of every child of a described parent job: a plain job's ``--index``, else its
    C4_SHARD_MAP, else the identity."""
    if not (job.get("arrayProperties") or {}).get("size"):
        index = index_of_command((job.get("container") or {}).get("command"))
        if index is not None:
            return [index]
    raw = environment_of(job).get(SHARD_MAP_ENV, "").strip()
    shard_map = parse_shard_map(raw) if raw else None
    return [shard_for_child(i, shard_map) for i in range(size)]


def config_url_of(job: dict[str, Any]) -> str | None:
    """The C4_CONFIG of a described job, if any."""
    return environment_of(job).get(CONFIG_ENV)


def rerun_selection(
    failed_children: list[int], child_shards: list[int], completed: set[int] | None = None
) -> Selection:
    """Shards to re-run: those of the failed children, minus shards already complete."""
    done = completed or set()
    shards = sorted({child_shards[i] for i in failed_children} - done)
    if not shards:
        raise SubmitError("nothing to re-run: no failed child whose shard is still incomplete")
    return Selection(shards, explicit=True)
