"""Checks made before any AWS call: what would hang, waste money or lose results.

Some settings AWS accepts only to leave jobs RUNNABLE forever (a compute environment too small
for one child), and some a real submit cannot use at all (a local output directory lives on the
instance's scratch volume and is deleted with it). AWS's own limits on the requests are in
:mod:`c4.batch.rules`. Every rule names the config key; all problems are reported at once.

Instance sizes come from the type name: ``large`` has 2 vCPUs, ``xlarge`` 4, ``Nxlarge`` 4N, and
memory per vCPU follows the family letter (c: 2 GiB, m/t: 4 GiB, r/i/z/d: 8 GiB, x: 16 GiB) —
true for the current generations Batch uses; :data:`INSTANCE_TABLE` lists exceptions.
Containers get about 6 % less than the instance's memory (OS and ECS agent; AWS "Compute
resource memory management"), see :data:`USABLE_MEMORY_FRACTION`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from c4.batch.config import BatchConfig
from c4.batch.rules import image_problems, instance_role_problems, job_role_problems

if TYPE_CHECKING:
    from c4.config import Config

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


@dataclass
class Checks:
    """Problems (the submit would fail or never run) and warnings (it would run, but ...)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_if_errors(self) -> None:
        """:class:`BatchValidationError` listing every error, one per line."""
        if self.errors:
            raise BatchValidationError("\n".join(dict.fromkeys(self.errors)))


def check_submit(cfg: BatchConfig, *, size: int, ami: str | None) -> Checks:
    """Capacity, network and AMI checks of a submit of ``size`` children (no network)."""
    checks = Checks()
    errors, warnings = checks.errors, checks.warnings
    if not cfg.subnets:
        errors.append("batch.subnets is empty: list the subnet ids the instances may use")
    # CreateComputeEnvironment (ComputeResource.subnets / securityGroupIds) takes ids.
    errors += [f"batch.subnets: {s!r} is not a subnet id (subnet-...)"
               for s in cfg.subnets if not s.startswith("subnet-")]
    if not cfg.security_groups:
        errors.append("batch.security_groups is empty: list at least one security group id")
    errors += [f"batch.security_groups: {g!r} is not a security group id (sg-...)"
               for g in cfg.security_groups if not g.startswith("sg-")]
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
    return checks


def check_real_submit(config: Config, config_url: str) -> list[str]:
    """What only a run on AWS needs: every path the job reads or writes outside its container
    on S3, an image AWS can pull, a job role and an instance profile."""
    cfg = config.batch
    problems = image_problems(cfg.image) + job_role_problems(cfg.job_role_arn)
    problems += instance_role_problems(cfg.instance_role)
    if not config_url.startswith("s3://"):
        problems.append(
            f"the job reads its config from {config_url!r}, which is not an s3:// URL; copy "
            "c4.toml to S3 and pass --config-url s3://bucket/key"
        )
    if not config.output.output.startswith("s3://"):
        problems.append(
            f"output.output = {config.output.output!r} is not s3://: on Batch it would be a "
            "directory on the instance, deleted with it; set output.output = 's3://bucket/prefix'"
        )
    if not config.data.source.startswith("s3://"):
        problems.append(
            f"data.source = {config.data.source!r} is not s3://: the instances cannot see "
            "this machine's files; copy the archive to S3 or use s3://scedc-pds"
        )
    stations = config.data.stations
    if stations and not stations.startswith("s3://"):
        problems.append(
            f"data.stations = {stations!r} is not s3://: copy the station metadata to S3 "
            "(or leave it empty for <source>/FDSNstationXML)"
        )
    scratch = PurePosixPath(config.output.scratch)
    mount = PurePosixPath(cfg.scratch_container_path)
    if config.output.scratch and scratch != mount and mount not in scratch.parents:
        problems.append(
            f"output.scratch = {config.output.scratch!r} is outside the scratch volume "
            f"(batch.scratch_container_path = {cfg.scratch_container_path!r}): the day files "
            "would fill the container's own small disk"
        )
    return problems


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
