"""``c4 submit``: pick the shards, validate, build the requests, then (unless a dry run) send them.

Order of work: shard selection and :func:`c4.batch.validate.check_submit` run first and touch no
network, then :func:`c4.batch.requests.build_plan` makes every request. A dry run stops there and
prints the plan; a real submit passes the same plan to :func:`send_plan`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from c4.batch.requests import CONFIG_ENV, SubmitPlan, build_plan
from c4.batch.resources import (
    ResourceResult,
    ensure_compute_environment,
    ensure_job_definition,
    ensure_job_queue,
    ensure_launch_template,
)
from c4.batch.validate import BatchValidationError, check_submit
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
    """A validated plan, ready to print (dry run) or send."""

    plan: SubmitPlan
    selection: Selection
    warnings: list[str] = field(default_factory=list)


def prepare(
    config: Config, selection: Selection, *, config_url: str, job_name: str | None = None,
    region: str | None = None,
) -> Prepared:
    """Validate and build every request; no network. Raises BatchValidationError/SubmitError."""
    cfg = config.batch
    try:
        ami = cfg.resolve_ami(region or cfg.region)
    except ValueError as exc:
        raise BatchValidationError(str(exc)) from None
    warnings = check_submit(cfg, size=selection.size, ami=ami)
    if not config_url.startswith("s3://"):
        warnings.append(
            f"the job reads its config from {config_url!r}, which is not an s3:// URL; copy "
            "c4.toml to S3 and pass --config-url s3://bucket/key (required for a real submit)"
        )
    plan = build_plan(
        cfg, ami=ami or "", config_url=config_url, size=selection.size,
        shard_map=selection.shard_map, job_name=job_name,
    )
    return Prepared(plan, selection, warnings)


@dataclass(frozen=True)
class Submitted:
    """Result of a real submit."""

    job_id: str
    job_name: str
    size: int
    shard_map: list[int] | None
    resources: list[ResourceResult]


def session_for(region: str | None) -> Any:
    """A boto3 session in ``region`` (None: the environment's default region)."""
    import boto3

    return boto3.Session(region_name=region) if region else boto3.Session()


def send_plan(prepared: Prepared, session: Any) -> Submitted:
    """Create/update the resources and submit the job, all from ``prepared.plan``."""
    plan = prepared.plan
    ec2, batch = session.client("ec2"), session.client("batch")
    resources = [
        ensure_launch_template(ec2, plan.create_launch_template),
        ensure_compute_environment(batch, plan.create_compute_environment),
        ensure_job_queue(batch, plan.create_job_queue),
        ensure_job_definition(batch, plan.register_job_definition),
    ]
    out = batch.submit_job(**plan.submit_job)
    return Submitted(
        job_id=out["jobId"], job_name=out["jobName"], size=prepared.selection.size,
        shard_map=prepared.selection.shard_map, resources=resources,
    )


def environment_of(job: dict[str, Any]) -> dict[str, str]:
    """A described job's container environment as a dict (first value of each name wins)."""
    env: dict[str, str] = {}
    for item in (job.get("container") or {}).get("environment") or []:
        env.setdefault(item["name"], item["value"])
    return env


def shards_of_job(job: dict[str, Any], size: int) -> list[int]:
    """Shard of every child of a described parent job (its C4_SHARD_MAP, else the identity)."""
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
