"""CLI of the Batch commands ``c4 submit``, ``status`` and ``local``; the account-level commands
``iam-policy`` and ``teardown`` are in :mod:`c4.batch.account_cli`.

Each command parses options, calls one library function of :mod:`c4.batch`, and turns domain
errors into a message and a non-zero exit (2: bad input, nothing sent; 1: AWS or child failure).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
LOG_DIR = Path("c4-local-logs")


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map user mistakes to exit 2 and AWS failures to exit 1, without tracebacks."""
    from botocore.exceptions import BotoCoreError, ClientError

    from c4.batch.resources import BatchResourceError
    from c4.batch.submit import SubmitError
    from c4.batch.validate import BatchValidationError
    from c4.config import ConfigError

    try:
        yield
    except BatchValidationError as exc:
        err.print("[red]error:[/red] the submit is invalid; nothing was sent:", highlight=False)
        for line in str(exc).splitlines():
            err.print(f"  - {line}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    except (ConfigError, SubmitError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except (BatchResourceError, ClientError, BotoCoreError) as exc:
        err.print(f"[red]AWS error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


def quote(value: Any) -> str:
    """A TOML value for ``section.key=value`` overrides (JSON strings/arrays are valid TOML)."""
    return json.dumps(value)


def load(config: str | None, overrides: list[str]) -> Any:
    from c4.config import load_config

    return load_config(config, overrides)


def warn(lines: list[str]) -> None:
    for line in lines:
        err.print(f"[yellow]warning:[/yellow] {line}", highlight=False)


def submit_command(
    config: str = typer.Option(
        "c4.toml", "--config", "-c", envvar="C4_CONFIG",
        help="c4.toml to read (path or s3://); its [batch] section configures the run.",
    ),
    config_url: str | None = typer.Option(
        None, "--config-url",
        help="Where the job reads c4.toml (s3://...); default: --config when it is s3://.",
    ),
    months: int | None = typer.Option(
        None, "--months", "--shards", "-m",
        help="Shards (months; days with data.shard = 'day') to run; default: all of "
        "data.start..end.",
    ),
    start: str | None = typer.Option(
        None, "--start", help="First month, YYYY-MM (default: the month of data.start)."
    ),
    rerun: str | None = typer.Option(
        None, "--rerun", help="Job id: submit only the shards whose children FAILED, or "
        "SUCCEEDED with days that had no files (not complete in the manifest)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the requests and an estimate as JSON; send nothing."
    ),
    stations: int | None = typer.Option(
        None, "--stations", help="Station count for the estimate (default: from the archive, "
        "else the local metadata)."
    ),
    archive_size: bool = typer.Option(
        True, "--archive-size/--no-archive-size",
        help="Dry run without --stations: list a few days of the archive to count stations, "
        "channels and bytes (30 s at most)."
    ),
    image: str | None = typer.Option(None, help="batch.image"),
    vcpus: int | None = typer.Option(None, help="batch.vcpus"),
    memory_mib: int | None = typer.Option(None, help="batch.memory_mib"),
    attempts: int | None = typer.Option(None, help="batch.attempts"),
    timeout_s: int | None = typer.Option(None, help="batch.timeout_s"),
    min_vcpus: int | None = typer.Option(None, help="batch.min_vcpus"),
    desired_vcpus: int | None = typer.Option(None, help="batch.desired_vcpus"),
    max_vcpus: int | None = typer.Option(None, help="batch.max_vcpus"),
    instance_types: str | None = typer.Option(None, help="batch.instance_types, comma-separated"),
    subnets: str | None = typer.Option(None, help="batch.subnets, comma-separated"),
    security_groups: str | None = typer.Option(None, help="batch.security_groups, comma-sep."),
    ami_id: str | None = typer.Option(None, help="batch.ami_id"),
    image_type: str | None = typer.Option(None, help="batch.image_type"),
    allocation_strategy: str | None = typer.Option(None, help="batch.allocation_strategy"),
    bid_percentage: int | None = typer.Option(None, help="batch.bid_percentage"),
    compute_environment: str | None = typer.Option(None, help="batch.compute_environment"),
    job_queue: str | None = typer.Option(None, help="batch.job_queue"),
    job_definition: str | None = typer.Option(None, help="batch.job_definition"),
    job_name: str | None = typer.Option(None, help="batch.job_name"),
    job_role_arn: str | None = typer.Option(None, help="batch.job_role_arn"),
    service_role_arn: str | None = typer.Option(None, help="batch.service_role_arn"),
    instance_role: str | None = typer.Option(None, help="batch.instance_role"),
    region: str | None = typer.Option(None, help="batch.region"),
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any config key: section.key=value (TOML value), repeatable."),
    ] = None,
) -> None:
    """Create/update the Batch resources and submit the array job (one child per month)."""
    options = {
        "image": image, "vcpus": vcpus, "memory_mib": memory_mib, "attempts": attempts,
        "timeout_s": timeout_s, "min_vcpus": min_vcpus, "desired_vcpus": desired_vcpus,
        "max_vcpus": max_vcpus, "ami_id": ami_id, "image_type": image_type,
        "allocation_strategy": allocation_strategy, "bid_percentage": bid_percentage,
        "compute_environment": compute_environment, "job_queue": job_queue,
        "job_definition": job_definition, "job_name": job_name, "job_role_arn": job_role_arn,
        "service_role_arn": service_role_arn, "instance_role": instance_role, "region": region,
    }
    lists = {"instance_types": instance_types, "subnets": subnets,
             "security_groups": security_groups}
    overrides = [f"batch.{k}={quote(v)}" for k, v in options.items() if v is not None]
    overrides += [
        f"batch.{k}={quote([s.strip() for s in v.split(',') if s.strip()])}"
        for k, v in lists.items() if v is not None
    ]
    with domain_errors():
        _submit(config, config_url, months, start, rerun, dry_run, stations,
                overrides + list(set_ or []), archive_size)


def _submit(
    config: str, config_url: str | None, months: int | None, start: str | None,
    rerun: str | None, dry_run: bool, stations: int | None, overrides: list[str],
    archive_size: bool = True,
) -> None:
    from c4.batch import estimate as est
    from c4.batch import submit as sub

    cfg = load(config, overrides)
    url = config_url or config
    if rerun is not None:
        if dry_run:
            raise sub.SubmitError("--rerun looks up the failed job, so it cannot be a dry run")
        if months is not None or start is not None:
            raise sub.SubmitError("--rerun takes the shards from the failed job; drop --months "
                                  "and --start")
        selection = _rerun_selection(cfg, rerun)
    else:
        selection = sub.select_shards(cfg, months, start)
    archive = None
    if stations is not None:
        size = est.campaign_size(cfg, stations, "--stations")
    else:
        if archive_size:
            archive, why = _size_from_archive(cfg, selection.shards)
        if archive is not None:
            size = est.CampaignSize(
                archive.stations, archive.channels,
                archive.sample_rate_hz or est.CampaignSize.source_sampling_rate_hz,
                source=f"archive listing of {', '.join(archive.days)}")
        else:
            if archive_size:
                warn([why])
            size = est.campaign_size(cfg, est.count_stations(cfg), "data.stations metadata")
    region = cfg.batch.region or _default_region()
    prepared = sub.prepare(cfg, selection, config_url=url, size=size, region=region,
                           strict=not dry_run)
    if dry_run:
        warn(prepared.warnings)
        doc = {
            "requests": prepared.plan.as_json_dict(),
            "shards": selection.shards,
            "estimate": prepared.estimate.to_json_dict(),
            "archive": archive.to_json_dict() if archive is not None else None,
            "problems": prepared.errors,
            "warnings": prepared.warnings,
            "filled_in_by_submit": {
                "batch.create_compute_environment": "computeResources.launchTemplate.version: "
                "the template version found or created (1 for a new template); "
                "computeEnvironmentName for a blue/green replacement",
                "batch.register_job_definition": "containerProperties.image: the tag's "
                "digest (repo@sha256:...) when ECR knows it",
            },
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        if prepared.errors:
            err.print("[red]error:[/red] a real submit would be refused:", highlight=False)
            for line in prepared.errors:
                err.print(f"  - {line}", highlight=False, markup=False)
            raise typer.Exit(2)
        return
    warn(prepared.warnings)
    e = prepared.estimate
    err.print(f"estimate: {e.vcpu_hours:,.0f} vCPU-hours, {e.costs.total_spot:,.2f} USD on Spot "
              f"({e.costs.total_on_demand:,.2f} on demand), results "
              f"{e.costs.results_storage_per_month:,.2f} USD/month; timeout "
              f"{e.timeout_s / 3600:.0f} h per attempt (c4 submit --dry-run lists every term)",
              highlight=False)
    done = sub.send_plan(prepared, sub.session_for(region))
    table = Table(title="c4 submit")
    for col in ("resource", "name", "action", "detail"):
        table.add_column(col)
    for r in done.resources:
        table.add_row(r.kind, r.name, r.action, r.detail)
    table.add_row("job", done.job_name, f"{done.size} child(ren)", "")
    out.print(table)
    for note in done.notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    if done.shard_map is not None and done.size > 1:
        from c4.batch.status import ranges

        out.print(f"shard map (child i runs shard map[i]): {ranges(done.shard_map)}")
    elif done.size == 1:
        out.print(f"one shard ({selection.shards[0]}): a plain job running "
                  f"--index {selection.shards[0]}", highlight=False)
    out.print(f"Submitted job {done.job_id} ({done.size} children)", highlight=False)


def _default_region() -> str | None:
    """The region boto3 would use (environment or profile), read offline."""
    import boto3

    return boto3.Session().region_name


def _size_from_archive(cfg: Any, shards: list[int]) -> tuple[Any, str]:
    """(:class:`c4.sources.sizing.ArchiveSize`, "") from a few listed days of the shards, or
    (None, why not)."""
    from c4.shards import shard_days
    from c4.sources.sizing import size_archive_within

    return size_archive_within(cfg, [d for s in shards for d in shard_days(cfg, s)])


def _rerun_selection(cfg: Any, job_id: str) -> Any:
    from c4.batch import status as st
    from c4.batch import submit as sub

    batch = sub.session_for(cfg.batch.region).client("batch")
    report = st.job_report(batch, job_id)
    active = [c for c in report.children if c.status not in ("SUCCEEDED", "FAILED")]
    if active:
        warn([f"{len(active)} children of {job_id} have not finished; only FAILED ones rerun"])
    completed = _completed_or_none(cfg)
    again = [c.index for c in report.failed()]
    if completed is not None:  # succeeded, but days without files left the shard incomplete
        again += [c.index for c in report.children
                  if c.status == "SUCCEEDED" and c.shard not in completed]
    return sub.rerun_selection(sorted(again), [c.shard for c in report.children], completed)


def _completed_or_none(cfg: Any) -> set[int] | None:
    from c4.batch.status import manifest_shards

    try:
        return manifest_shards(cfg.output.output, cfg.data.endpoint_url)
    except Exception as exc:  # the manifest refines the answer; never block on it
        warn([f"could not read the output manifest at {cfg.output.output}: {exc}"])
        return None


def status_command(
    job_id: str = typer.Argument(..., help="Job id printed by c4 submit."),
    config: str | None = typer.Option(
        None, "--config", "-c",
        help="c4.toml for the manifest of finished shards (default: the job's C4_CONFIG).",
    ),
    region: str | None = typer.Option(None, help="AWS region (default: the environment's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Children of a job by state, failures with reason and log stream, finished shards."""
    from c4.batch import status as st
    from c4.batch.submit import session_for

    with domain_errors():
        report = st.job_report(session_for(region).client("batch"), job_id)
        source = config or report.config_url
        if source:
            try:
                cfg = load(source, [])
                done = st.manifest_shards(cfg.output.output, cfg.data.endpoint_url)
                report.completed_shards = sorted(done)
            except Exception as exc:  # report the job even when the manifest is unreadable
                report.notes.append(f"manifest not read ({source}): {exc}")
        else:
            report.notes.append("no config known: pass --config to see finished shards")
    if as_json:
        sys.stdout.write(json.dumps(report.to_json_dict(), indent=2) + "\n")
        return
    _print_report(report)


def _print_report(report: Any) -> None:
    from c4.batch.status import ranges

    out.print(f"job {report.job_id} ({report.job_name}): {report.status}, "
              f"{report.size} children", highlight=False)
    table = Table(title="children by state")
    table.add_column("state")
    table.add_column("children", justify="right")
    for state, n in report.counts().items():
        if n:
            table.add_row(state, str(n))
    out.print(table)
    failed = report.failed()
    if failed:
        ft = Table(title=f"failed children (logs in CloudWatch group {report.log_group})")
        for col in ("child", "shard", "status reason", "log stream"):
            ft.add_column(col)
        for c in failed:
            ft.add_row(str(c.index), str(c.shard), c.status_reason or "-", c.log_stream or "-")
        out.print(ft)
        out.print(f"re-run them with: c4 submit --rerun {report.job_id}", highlight=False)
    if report.completed_shards is not None:
        shards = sorted({c.shard for c in report.children})
        done = [s for s in shards if s in set(report.completed_shards)]
        out.print(f"shards complete in the output manifest: {len(done)} of {len(shards)}"
                  + (f" ({ranges(done)})" if done else ""), highlight=False)
    for note in report.notes:
        err.print(f"note: {note}", highlight=False, markup=False)


def local_command(
    config: str = typer.Option("c4.toml", "--config", "-c", envvar="C4_CONFIG",
                               help="c4.toml (path or s3://)."),
    months: int | None = typer.Option(
        None, "--months", "--shards", "-m", help="Children (months, or day shards) to run."
    ),
    start: str | None = typer.Option(None, "--start", help="First month, YYYY-MM."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Children run at once."),
    logs: Annotated[Path, typer.Option("--logs", help="Directory of child logs.")] = LOG_DIR,
) -> None:
    """Run the array children here, as separate `c4 correlate` processes (a rehearsal)."""
    from c4.batch import local as loc
    from c4.batch.submit import select_shards

    with domain_errors():
        cfg = load(config, [])
        selection = select_shards(cfg, months, start)
    runs = loc.run_local(loc.correlate_command(config), selection.size, workers, logs,
                         shard_map=selection.shard_map, console=err)
    failed = [r for r in runs if r.returncode != 0]
    for r in failed:
        err.print(f"[red]child {r.index} failed[/red] (exit {r.returncode}); log: {r.log}",
                  highlight=False)
    out.print(f"{len(runs) - len(failed)} of {len(runs)} children succeeded; logs in {logs}",
              highlight=False)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the Batch commands to the top-level ``c4`` app."""
    app.command("submit")(submit_command)
    app.command("status")(status_command)
    app.command("local")(local_command)
    from c4.batch.account_cli import iam_policy_command, teardown_command

    app.command("iam-policy")(iam_policy_command)
    app.command("teardown")(teardown_command)
