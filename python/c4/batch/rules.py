"""AWS's own rules for the requests c4 sends, checked on the exact request dictionaries.

botocore's service model knows the shapes and types of every parameter (a test validates each
dry-run request with botocore's ``ParamValidator``) but not most ranges and patterns, and moto
accepts what AWS rejects (array size 1 or 10001, 11 attempts, a 10 s timeout, ...). Each rule
here quotes the API reference page that states it; the message names the ``batch.*`` key that
produced the value. Rules about what would be accepted but never work (an image AWS cannot
pull, a role that is not an instance profile) are here too, with the page that says so.
"""

from __future__ import annotations

import re
from typing import Any

MAX_ARRAY_SIZE = 10_000
MIN_ARRAY_SIZE = 2
MAX_ATTEMPTS = 10
MIN_TIMEOUT_S = 60
MAX_EVALUATE_ON_EXIT = 5
MAX_UPDATE_TIMEOUT_MIN = 360
MAX_TAGS = 50
IMAGE_PLACEHOLDER = "<batch.image>"
"""What a plan shows for an unset ``batch.image`` (a real submit refuses it)."""

# ContainerProperties.image (Batch API reference): "Up to 255 letters (uppercase and
# lowercase), numbers, hyphens, underscores, colons, periods, forward slashes, and number signs
# are allowed." "Images in official repositories on Docker Hub use a single name (for example,
# ubuntu or mongo)"; images elsewhere are "qualified further by a domain name (for example,
# quay.io/assemblyline/ubuntu)"; ECR images "use the full registry and repository URI (for
# example, 123456789012.dkr.ecr.<region-name>.amazonaws.com/<repository-name>)".
_IMAGE_CHARS = re.compile(r"^[A-Za-z0-9_:./#@-]{1,255}$")
# Docker's reference grammar: the first path component is a registry host when it contains a
# "." or a ":" (a port) or is "localhost"; otherwise the image is looked up on Docker Hub.
_REGISTRY_HOST = re.compile(r"^([a-z0-9-]+\.[a-z0-9.-]+|[a-z0-9.-]+:[0-9]+|localhost)$")
ECR_IMAGE = re.compile(
    r"^(?P<registry>(?P<account>[0-9]{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)"
    r"\.amazonaws\.com(\.cn)?)/(?P<repository>[a-z0-9._/-]+?)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
"""An ECR image URI: registry, account, region, repository and tag or digest."""
# ComputeResource.instanceRole (Batch API reference): "The Amazon ECS instance profile applied
# to Amazon EC2 instances in a compute environment. ... You can specify the short name or full
# Amazon Resource Name (ARN) of an instance profile. For example, ecsInstanceRole or
# arn:aws:iam::<aws_account_id>:instance-profile/ecsInstanceRole."
_INSTANCE_PROFILE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/[\w+=,.@/-]+$")
_INSTANCE_PROFILE_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
# ContainerProperties.jobRoleArn: "The Amazon Resource Name (ARN) of the IAM role that the
# container can assume for Amazon Web Services permissions."
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):role/[\w+=,.@/-]+$")
# EvaluateOnExit (Batch API reference): onStatusReason / onReason "can contain up to 512
# characters ... letters, numbers, periods (.), colons (:), and white spaces (including spaces
# and tabs). It can optionally end with an asterisk (*) so that only the start of the string
# needs to be an exact match."; onExitCode "can contain up to 512 characters ... only numbers,
# and can end with an asterisk (*)".
_REASON = re.compile(r"^[A-Za-z0-9.:\s]{0,511}\*?$")
_EXIT_CODE = re.compile(r"^(?=.)[0-9]{0,511}\*?$")


def image_problems(image: str | None) -> list[str]:
    """Why AWS could not pull ``image`` for c4 (no host: it would come from Docker Hub)."""
    if not image or image == IMAGE_PLACEHOLDER:
        return [
            "batch.image is unset: push the `docker build .` image to ECR (docs/aws.md, step 3) "
            "and set batch.image = '<account>.dkr.ecr.<region>.amazonaws.com/c4:<version>'"
        ]
    if not _IMAGE_CHARS.match(image):
        return [f"batch.image = {image!r}: up to 255 letters, digits and _-:./#@ only"]
    host = image.split("/", 1)[0] if "/" in image else ""
    if not _REGISTRY_HOST.match(host):
        return [
            f"batch.image = {image!r} has no registry host, so AWS would pull it from Docker "
            "Hub; give the full URI, e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com/c4:0.1.0"
        ]
    return []


def instance_role_problems(role: str) -> list[str]:
    """An instance *profile* (name or ARN) is needed; a role ARN is rejected at launch."""
    if _INSTANCE_PROFILE_ARN.match(role) or (
        not role.startswith("arn:") and _INSTANCE_PROFILE_NAME.match(role)
    ):
        return []
    hint = role.replace(":role/", ":instance-profile/") if ":role/" in role else None
    return [
        f"batch.instance_role = {role!r} is not an instance profile: give its name (e.g. "
        "ecsInstanceRole) or arn:aws:iam::<account>:instance-profile/<name>"
        + (f" (did you mean {hint}?)" if hint else "")
    ]


def job_role_problems(arn: str | None) -> list[str]:
    """The job role must be set (the job reads its config and writes S3) and be a role ARN."""
    if not arn:
        return [
            "batch.job_role_arn is unset: the job could not read its config or write its "
            "results; create the role with `c4 iam-policy job` (docs/aws.md) and set its ARN"
        ]
    if not ROLE_ARN.match(arn):
        return [f"batch.job_role_arn = {arn!r}: expected arn:aws:iam::<account>:role/<name>"]
    return []


def submit_job_problems(request: dict[str, Any]) -> list[str]:
    """SubmitJob: the array size (ArrayProperties: "The size of the array job ... between 2
    and 10,000"); a one-shard job is sent as a plain job carrying ``--index``."""
    size = (request.get("arrayProperties") or {}).get("size")
    if size is not None and not MIN_ARRAY_SIZE <= size <= MAX_ARRAY_SIZE:
        return [
            f"array size {size}: AWS Batch allows {MIN_ARRAY_SIZE}-{MAX_ARRAY_SIZE} children "
            "(one shard is submitted as a plain job); submit fewer months at a time"
        ]
    return []


def job_definition_problems(request: dict[str, Any]) -> list[str]:
    """RegisterJobDefinition: retry strategy, timeout, roles, tags."""
    problems: list[str] = []
    retry = request.get("retryStrategy") or {}
    attempts = retry.get("attempts", 1)
    # RetryStrategy.attempts: "You can specify between 1 and 10 attempts."
    if not 1 <= attempts <= MAX_ATTEMPTS:
        problems.append(f"batch.attempts = {attempts}: must be 1-{MAX_ATTEMPTS}")
    rules = retry.get("evaluateOnExit") or []
    # RetryStrategy.evaluateOnExit: "Array of up to 5 objects that specify the conditions
    # where jobs are retried or failed."
    if len(rules) > MAX_EVALUATE_ON_EXIT:
        problems.append(f"retryStrategy has {len(rules)} evaluateOnExit rules (AWS allows 5)")
    for rule in rules:
        for key in ("onStatusReason", "onReason"):
            if key in rule and not _REASON.match(rule[key]):
                problems.append(f"evaluateOnExit.{key} {rule[key]!r}: not a pattern AWS accepts")
        if "onExitCode" in rule and not _EXIT_CODE.match(rule["onExitCode"]):
            problems.append(f"evaluateOnExit.onExitCode {rule['onExitCode']!r}: digits and *")
        # EvaluateOnExit.action: "RETRY | EXIT" (required).
        if rule.get("action") not in ("RETRY", "EXIT"):
            problems.append(f"evaluateOnExit.action {rule.get('action')!r}: RETRY or EXIT")
    timeout = (request.get("timeout") or {}).get("attemptDurationSeconds")
    # JobTimeout.attemptDurationSeconds: "The minimum value for the timeout is 60 seconds."
    if timeout is not None and timeout < MIN_TIMEOUT_S:
        problems.append(f"batch.timeout_s = {timeout}: must be at least {MIN_TIMEOUT_S} s")
    container = request.get("containerProperties") or {}
    problems += image_problems(container.get("image"))
    problems += tag_problems(request.get("tags") or {})
    return problems


def compute_environment_problems(request: dict[str, Any]) -> list[str]:
    """CreateComputeEnvironment: Spot settings, vCPU order, instance profile, tags."""
    problems: list[str] = []
    cr = request.get("computeResources") or {}
    # ComputeResource.bidPercentage: "the maximum percentage that a Spot Instance price can be
    # when compared with the On-Demand price ... must be less than or equal to 100".
    bid = cr.get("bidPercentage")
    if cr.get("type") == "SPOT" and bid is not None and not 1 <= bid <= 100:
        problems.append(f"batch.bid_percentage = {bid}: must be 1-100")
    strategy = cr.get("allocationStrategy", "")
    # ComputeResource.allocationStrategy: SPOT_CAPACITY_OPTIMIZED and
    # SPOT_PRICE_CAPACITY_OPTIMIZED are Spot strategies ("SPOT_... is only available for Spot
    # Instance compute resources").
    if cr.get("type") == "EC2" and strategy.startswith("SPOT_"):
        problems.append(
            f"batch.allocation_strategy = {strategy} needs batch.provisioning = 'SPOT'; "
            "on demand use BEST_FIT_PROGRESSIVE"
        )
    lo, want, hi = cr.get("minvCpus", 0), cr.get("desiredvCpus", 0), cr.get("maxvCpus", 0)
    # ComputeResource.desiredvCpus: "The desired number of vCPUS in the compute environment",
    # between minvCpus and maxvCpus ("Updating compute environments": "the value must be
    # between the minvCpus and maxvCpus values").
    if not lo <= want <= hi:
        problems.append(
            f"batch.min_vcpus ({lo}) <= batch.desired_vcpus ({want}) <= batch.max_vcpus "
            f"({hi}) does not hold"
        )
    if "instanceRole" in cr:
        problems += instance_role_problems(cr["instanceRole"])
    problems += tag_problems(cr.get("tags") or {})
    return problems


def update_policy_problems(policy: dict[str, Any]) -> list[str]:
    """UpdatePolicy.jobExecutionTimeoutMinutes: "Valid Range: Minimum value of 1. Maximum value
    of 360." (later revisions of the page allow 7200; c4 keeps to the range every region
    has)."""
    minutes = policy.get("jobExecutionTimeoutMinutes")
    if minutes is not None and not 1 <= minutes <= MAX_UPDATE_TIMEOUT_MIN:
        return [
            f"batch.update_job_timeout_minutes = {minutes}: must be 1-{MAX_UPDATE_TIMEOUT_MIN}"
        ]
    return []


def tag_problems(tags: dict[str, str]) -> list[str]:
    """Batch TagResource: "Maximum number of 50 items", keys of 1-128 and values of at most 256
    characters; the ``aws:`` prefix is reserved for AWS."""
    problems = []
    if len(tags) > MAX_TAGS:
        problems.append(f"batch.tags has {len(tags)} tags (AWS allows {MAX_TAGS})")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
            problems.append(
                f"batch.tags {key!r}: keys 1-128 characters, not starting with aws:, values "
                "at most 256"
            )
    return problems


def plan_problems(requests: dict[str, dict[str, Any]]) -> list[str]:
    """Every rule above applied to a plan's requests (``SubmitPlan.as_json_dict()``)."""
    problems = compute_environment_problems(requests["batch.create_compute_environment"])
    problems += job_definition_problems(requests["batch.register_job_definition"])
    problems += submit_job_problems(requests["batch.submit_job"])
    return list(dict.fromkeys(problems))  # tags appear in several requests: say it once
