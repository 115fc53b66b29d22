"""CLI of the account-level Batch commands: ``c4 iam-policy`` and ``c4 teardown``.

Each parses options, calls one library function (:mod:`c4.batch.iam`,
:mod:`c4.batch.teardown`) and maps domain errors to an exit code like :mod:`c4.batch.cli`.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated, Any

import typer

from c4.batch.cli import domain_errors, load, out, quote, warn


class RoleChoice(str, Enum):
    job = "job"
    instance = "instance"
    service = "service"
    submitter = "submitter"


class DocumentChoice(str, Enum):
    full = "full"
    policy = "policy"
    trust = "trust"


def _account_of(cfg: Any) -> str | None:
    """The 12-digit account in the config's ARNs or ECR image, if any."""
    import re

    b = cfg.batch
    for value in (b.job_role_arn, b.image, b.service_role_arn, b.instance_role):
        match = re.search(r"(?<![0-9])([0-9]{12})(?![0-9])", value or "")
        if match:
            return match.group(1)
    return None


def iam_policy_command(
    kind: Annotated[RoleChoice, typer.Argument(help="job, instance, service or submitter.")],
    input_url: str | None = typer.Option(None, "--input", help="s3://bucket/prefix jobs read."),
    output_url: str | None = typer.Option(None, "--output", help="s3://bucket/prefix written."),
    config_url: str | None = typer.Option(None, "--config-url", help="s3:// c4.toml jobs read."),
    config: str | None = typer.Option(
        None, "--config", "-c",
        help="c4.toml whose data.source, output.output, names and ARNs fill the defaults "
        "(an s3:// --config is also the config the job reads).",
    ),
    account: str | None = typer.Option(
        None, "--account", help="AWS account id for trust conditions and resource ARNs."),
    region: str | None = typer.Option(None, "--region", help="Region of the resources."),
    kms_key: Annotated[
        list[str] | None,
        typer.Option("--kms-key", help="KMS key ARN of an SSE-KMS bucket (repeatable)."),
    ] = None,
    document: Annotated[
        DocumentChoice,
        typer.Option(help="full (all of it), policy (the inline policy) or trust."),
    ] = DocumentChoice.full,
) -> None:
    """Print least-privilege IAM policies (JSON) for the job, instance, service role or the
    submitter (who runs c4 submit, status and teardown)."""
    from c4.batch.config import BatchConfig
    from c4.batch.iam import role_arn, role_description, submitter_policy
    from c4.batch.submit import SubmitError

    with domain_errors():
        batch_cfg = BatchConfig()
        if config is not None:
            cfg = load(config, [])
            batch_cfg = cfg.batch
            input_url = input_url or cfg.data.source
            output_url = output_url or cfg.output.output
            account = account or _account_of(cfg)
            region = region or cfg.batch.region
            if config_url is None and config.startswith("s3://"):
                config_url = config
            elif config_url is None and kind is RoleChoice.job:
                warn(["the job must read its config: pass --config-url s3://... (the copy of "
                       f"{config} on S3) to grant it"])
        try:
            if kind is RoleChoice.submitter:
                if not account:
                    raise ValueError("the submitter policy names your resources: pass "
                                     "--account 123456789012 (or a --config holding it)")
                roles = [role_arn(account, batch_cfg.instance_role.rsplit("/", 1)[-1])]
                roles += [r for r in (batch_cfg.job_role_arn, batch_cfg.service_role_arn) if r]
                doc = submitter_policy(
                    account, region, pass_roles=roles, output_url=output_url,
                    config_url=config_url, names={
                        "compute_environment": batch_cfg.compute_environment,
                        "job_queue": batch_cfg.job_queue,
                        "job_definition": batch_cfg.job_definition,
                        "log_group": batch_cfg.log_group,
                    })
                sys.stdout.write(json.dumps(doc, indent=2) + "\n")
                return
            desc = role_description(kind.value, input_url, output_url, config_url,
                                    account=account, region=region, kms_keys=kms_key)
        except ValueError as exc:
            raise SubmitError(str(exc)) from None
        if document is DocumentChoice.trust:
            doc = desc["AssumeRolePolicyDocument"]
        elif document is DocumentChoice.policy:
            if "PolicyDocument" not in desc:
                raise SubmitError(f"the {kind.value} role has only managed policies: "
                                  + ", ".join(desc["ManagedPolicyArns"]))
            doc = desc["PolicyDocument"]
        else:
            doc = desc
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def teardown_command(
    config: str = typer.Option("c4.toml", "--config", "-c", envvar="C4_CONFIG",
                               help="c4.toml whose [batch] names the resources."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed."),
    force: bool = typer.Option(False, "--force",
                               help="Remove the queue even with active jobs (AWS ends them)."),
    keep_logs: bool = typer.Option(False, "--keep-logs", help="Keep the CloudWatch log group."),
    region: str | None = typer.Option(None, help="batch.region"),
) -> None:
    """Remove the job queue, compute environments, job definition, launch template and log
    group that c4 submit created (results, AMI, image and roles stay)."""
    from c4.batch.submit import SubmitError, session_for
    from c4.batch.teardown import TeardownRefused, teardown

    with domain_errors():
        cfg = load(config, [f"batch.region={quote(region)}"] if region else [])
        try:
            report = teardown(session_for(cfg.batch.region), cfg.batch, dry_run=dry_run,
                              force=force, keep_logs=keep_logs)
        except TeardownRefused as exc:
            raise SubmitError(str(exc)) from None
    for line in report.lines:
        out.print(line, highlight=False)
