"""``c4 status JOB_ID``: the children of an array job by state, failures, and finished shards.

Children of array job ``P`` have the job ids ``P:0`` .. ``P:n-1`` (AWS Batch convention); a plain
job (one shard) is its own single child 0. Shards come from the parent's ``C4_SHARD_MAP``, or
from the ``--index`` a plain job's command carries.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from c4.batch.submit import SubmitError, config_url_of, shards_of_job

log = logging.getLogger(__name__)

STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
"""AWS Batch job states, in lifecycle order."""
DESCRIBE_CHUNK = 100
"""describe_jobs accepts at most 100 ids per call."""
DEFAULT_LOG_GROUP = "/aws/batch/job"
"""Where Batch sends container output without a logConfiguration."""


@dataclass(frozen=True)
class Child:
    """One array child: index, shard, state, and for failures the reason and log stream."""

    index: int
    shard: int
    job_id: str
    status: str
    status_reason: str | None
    log_stream: str | None


@dataclass
class JobReport:
    """State of a submitted job and its children."""

    job_id: str
    job_name: str
    status: str
    size: int
    config_url: str | None
    children: list[Child]
    log_group: str = DEFAULT_LOG_GROUP
    completed_shards: list[int] | None = None
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Children per state (every state present, zeros included)."""
        seen = Counter(c.status for c in self.children)
        return {state: seen.get(state, 0) for state in STATES}

    def failed(self) -> list[Child]:
        """Children in FAILED state."""
        return [c for c in self.children if c.status == "FAILED"]

    def to_json_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        out = asdict(self)
        out["counts"] = self.counts()
        return out


def describe_job(batch: Any, job_id: str) -> dict[str, Any]:
    """The described job; SubmitError when AWS does not know it."""
    jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
    if not jobs:
        raise SubmitError(f"job {job_id} not found (jobs are kept about 7 days after they end)")
    return dict(jobs[0])


def _reason(job: dict[str, Any]) -> str | None:
    if job.get("statusReason"):
        return str(job["statusReason"])
    for attempt in reversed(job.get("attempts") or []):
        reason = attempt.get("statusReason") or (attempt.get("container") or {}).get("reason")
        if reason:
            return str(reason)
    return None


def _log_stream(job: dict[str, Any]) -> str | None:
    stream = (job.get("container") or {}).get("logStreamName")
    if stream:
        return str(stream)
    for attempt in reversed(job.get("attempts") or []):
        stream = (attempt.get("container") or {}).get("logStreamName")
        if stream:
            return str(stream)
    return None


def job_report(batch: Any, job_id: str) -> JobReport:
    """Describe ``job_id`` and every child (in chunks of 100)."""
    parent = describe_job(batch, job_id)
    array = parent.get("arrayProperties") or {}
    size = int(array.get("size") or 1)
    shards = shards_of_job(parent, size)
    if size == 1 and "size" not in array:
        described = {0: parent}
    else:
        described = {}
        ids = [f"{job_id}:{i}" for i in range(size)]
        for start in range(0, size, DESCRIBE_CHUNK):
            for job in batch.describe_jobs(jobs=ids[start:start + DESCRIBE_CHUNK])["jobs"]:
                index = (job.get("arrayProperties") or {}).get("index")
                if index is None:  # moto leaves arrayProperties out of children
                    index = int(str(job["jobId"]).rsplit(":", 1)[-1])
                described[int(index)] = job
    children = []
    for i in range(size):
        job = described.get(i, {})
        children.append(
            Child(
                index=i,
                shard=shards[i],
                job_id=str(job.get("jobId", f"{job_id}:{i}")),
                status=str(job.get("status", "UNKNOWN")),
                status_reason=_reason(job),
                log_stream=_log_stream(job),
            )
        )
    options = ((parent.get("container") or {}).get("logConfiguration") or {}).get("options") or {}
    return JobReport(
        job_id=job_id,
        job_name=str(parent.get("jobName", "")),
        status=str(parent.get("status", "UNKNOWN")),
        size=size,
        config_url=config_url_of(parent),
        children=children,
        log_group=str(options.get("awslogs-group") or DEFAULT_LOG_GROUP),
    )


def manifest_shards(output_url: str, endpoint_url: str = "") -> set[int]:
    """Shards whose manifest entry exists in the output store (see :mod:`c4.store`)."""
    from c4.store import completed_shards

    return set(completed_shards(output_url, endpoint_url=endpoint_url))


def ranges(values: list[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"``."""
    out: list[str] = []
    items = sorted(set(values))
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        out.append(str(items[i]) if i == j else f"{items[i]}-{items[j]}")
        i = j + 1
    return ", ".join(out)
