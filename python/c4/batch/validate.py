"""Checks made before any AWS call: what AWS would reject, and what would hang or waste money.

moto (our test server) accepts many requests AWS rejects, and some settings AWS accepts only to
leave jobs RUNNABLE forever (a compute environment too small for one child). Every rule here
names the config key and the allowed range; all problems are reported at once.

Instance sizes come from the type name: ``large`` has 2 vCPUs, ``xlarge`` 4, ``Nxlarge`` 4N, and
memory per vCPU follows the family letter (c: 2 GiB, m/t: 4 GiB, r/i/z/d: 8 GiB, x: 16 GiB) —
true for the current generations Batch uses; :data:`INSTANCE_TABLE` lists exceptions.
Containers get about 6 % less than the instance's memory (OS and ECS agent; AWS "Compute
resource memory management"), see :data:`USABLE_MEMORY_FRACTION`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from c4.batch.config import BatchConfig

MAX_ARRAY_SIZE = 10_000
"""AWS Batch array jobs have 2-10000 children (size 1 is submitted as a plain job)."""
MAX_ATTEMPTS = 10
MIN_TIMEOUT_S = 60
USABLE_MEMORY_FRACTION = 0.94
"""Share of an instance's memory that containers can reserve (approximate)."""

GIB_PER_VCPU = {"c": 2, "m": 4, "t": 4, "r": 8, "i": 8, "z": 8, "d": 8, "x": 16}
"""Memory per vCPU (GiB) by the first letter of the instance family."""

INSTANCE_TABLE: dict[str, tuple[int, int]] = {
    # type: (vCPUs, memory GiB) where the name rule above is wrong
    "x1.16xlarge": (64, 976),
    "x1.32xlarge": (128, 1952),
    "x1e.8xlarge": (32, 976),
    "i3.8xlarge": (32, 244),
    "i3.16xlarge": (64, 488),
    "z1d.6xlarge": (24, 192),
    "z1d.12xlarge": (48, 384),
    "d2.8xlarge": (36, 244),
}
FAMILY_LARGEST_SIZE = 16
"""A bare family ('r6i') or 'optimal' is assumed to offer at least its 16xlarge size."""

_TYPE_RE = re.compile(r"^(?P<family>[a-z][a-z0-9-]*)\.(?P<n>\d*)(?P<size>xlarge|large)$")


class BatchValidationError(ValueError):
    """The submit would be rejected by AWS or would never run; one line per problem."""


@dataclass(frozen=True)
class InstanceSize:
    """vCPUs and memory (MiB) of an instance type, as far as it is known."""

    vcpus: int
    memory_mib: int


def instance_size(instance_type: str) -> InstanceSize | None:
    """Size of ``instance_type`` ('r5.8xlarge' -> 32 vCPUs, 262144 MiB); None if unknown.

    A family ('r6i') or 'optimal' gives the family's 16xlarge size ('optimal': r-family).
    """
    name = instance_type.strip().lower()
    if name in INSTANCE_TABLE:
        vcpus, gib = INSTANCE_TABLE[name]
        return InstanceSize(vcpus, gib * 1024)
    if name == "optimal":
        name = f"r.{FAMILY_LARGEST_SIZE}xlarge"
    elif "." not in name:
        name = f"{name}.{FAMILY_LARGEST_SIZE}xlarge"
    match = _TYPE_RE.match(name)
    if match is None:
        return None
    family = match["family"]
    per_vcpu = GIB_PER_VCPU.get(family[0])
    if per_vcpu is None:
        return None
    if match["size"] == "large":
        if match["n"]:
            return None
        vcpus = 2
    else:
        vcpus = 4 * int(match["n"] or 1)
    return InstanceSize(vcpus, vcpus * per_vcpu * 1024)


def children_at_once(cfg: BatchConfig) -> int:
    """Children of ``cfg.vcpus`` each that fit in ``cfg.max_vcpus`` at the same time."""
    return cfg.max_vcpus // cfg.vcpus if cfg.vcpus else 0


def check_submit(cfg: BatchConfig, *, size: int, ami: str | None) -> list[str]:
    """Validate a submit of ``size`` children; returns warnings, raises on errors.

    Raises :class:`BatchValidationError` listing every problem; nothing is sent before this
    passes.
    """
    errors: list[str] = []
    warnings: list[str] = []
    if not 1 <= size <= MAX_ARRAY_SIZE:
        errors.append(
            f"array size {size}: AWS Batch allows 2-{MAX_ARRAY_SIZE} children "
            "(1 month is submitted as a plain job); submit fewer months at a time"
        )
    if not 1 <= cfg.attempts <= MAX_ATTEMPTS:
        errors.append(f"batch.attempts = {cfg.attempts}: must be 1-{MAX_ATTEMPTS}")
    if cfg.timeout_s < MIN_TIMEOUT_S:
        errors.append(f"batch.timeout_s = {cfg.timeout_s}: must be at least {MIN_TIMEOUT_S} s")
    if cfg.provisioning == "SPOT" and not 1 <= cfg.bid_percentage <= 100:
        errors.append(f"batch.bid_percentage = {cfg.bid_percentage}: must be 1-100")
    if cfg.provisioning == "EC2" and cfg.allocation_strategy.startswith("SPOT_"):
        errors.append(
            f"batch.allocation_strategy = {cfg.allocation_strategy} needs "
            "batch.provisioning = 'SPOT'; on demand use BEST_FIT_PROGRESSIVE"
        )
    if not cfg.min_vcpus <= cfg.desired_vcpus <= cfg.max_vcpus:
        errors.append(
            f"batch.min_vcpus ({cfg.min_vcpus}) <= batch.desired_vcpus ({cfg.desired_vcpus}) "
            f"<= batch.max_vcpus ({cfg.max_vcpus}) does not hold"
        )
    if not cfg.subnets:
        errors.append("batch.subnets is empty: list the subnet ids the instances may use")
    if not cfg.security_groups:
        errors.append("batch.security_groups is empty: list at least one security group id")
    if not ami:
        errors.append(
            "no AMI: set batch.ami_id, or build it with `packer build packer/` so that "
            f"batch.ami_manifest ({cfg.ami_manifest}) exists"
        )
    errors += _check_fit(cfg, warnings)
    if cfg.max_vcpus < cfg.vcpus:
        errors.append(
            f"batch.max_vcpus = {cfg.max_vcpus} is below the job's batch.vcpus = {cfg.vcpus}: "
            "no child could ever start (jobs would wait in RUNNABLE forever)"
        )
    else:
        at_once = children_at_once(cfg)
        if at_once < size:
            warnings.append(
                f"batch.max_vcpus = {cfg.max_vcpus} runs {at_once} of {size} children at once "
                f"({cfg.vcpus} vCPUs each); the others wait in RUNNABLE until one finishes"
            )
    if errors:
        raise BatchValidationError("\n".join(errors))
    return warnings


def _check_fit(cfg: BatchConfig, warnings: list[str]) -> list[str]:
    """Errors unless some instance type holds one child's vCPUs and memory."""
    sizes = {t: instance_size(t) for t in cfg.instance_types}
    unknown = [t for t, s in sizes.items() if s is None]
    if unknown:
        warnings.append(
            f"cannot check the size of instance type(s) {', '.join(unknown)}; make sure one "
            f"holds {cfg.vcpus} vCPUs and {cfg.memory_mib} MiB"
        )
    known = {t: s for t, s in sizes.items() if s is not None}
    if not known or unknown:
        return []
    fits = [
        t
        for t, s in known.items()
        if s.vcpus >= cfg.vcpus and s.memory_mib * USABLE_MEMORY_FRACTION >= cfg.memory_mib
    ]
    if fits:
        return []
    largest = ", ".join(
        f"{t} ({s.vcpus} vCPUs, ~{int(s.memory_mib * USABLE_MEMORY_FRACTION)} MiB usable)"
        for t, s in known.items()
    )
    return [
        f"batch.vcpus = {cfg.vcpus} / batch.memory_mib = {cfg.memory_mib} fit none of "
        f"batch.instance_types: {largest}; lower them or add a larger instance type"
    ]
