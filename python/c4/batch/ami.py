"""The AMI of the Batch instances: where its id comes from and whether it fits the run.

The id is ``batch.ami_id`` or the last build of the Packer manifest (``batch.ami_manifest``,
written by ``packer build packer/``), whose ``custom_data`` also records the region,
architecture and family it was built for. An AMI is usable only in its own region (EC2
"Copy an AMI": AMIs are regional resources), only by instances of its architecture, and Batch
configures the ECS agent by ``ec2Configuration.imageType``, which must name the AMI's family
(Batch API reference, Ec2Configuration: ECS_AL2023 for Amazon Linux 2023, ECS_AL2 for Amazon
Linux 2). :func:`ami_problems` checks all three offline from the manifest;
:func:`describe_problems` checks the same on ``ec2.describe_images`` before a real submit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c4.batch.config import BatchConfig

FAMILY_OF_IMAGE_TYPE = {
    "ECS_AL2023": "al2023",
    "ECS_AL2023_NVIDIA": "al2023",
    "ECS_AL2": "al2",
    "ECS_AL2_NVIDIA": "al2",
}
"""AMI family (the Packer template's ``ami_family``) that each Batch ``imageType`` expects."""
FAMILY_TAG = "c4:ami-family"
ARCH_TAG = "c4:arch"
"""Tags the Packer template puts on the AMI (see packer/c4-ami.pkr.hcl)."""

# Graviton families carry a "g" right after the generation digit (m6g, c7gn, r8g, x2gd, im4gn,
# is4gen, t4g); a1 is the first-generation Graviton. Everything else Batch launches is x86_64.
_ARM_FAMILY = re.compile(r"^([a-z]+[0-9]+g[a-z]*|a1)$")


@dataclass(frozen=True)
class AmiChoice:
    """The AMI a submit uses and what is known of it (None: not known offline)."""

    ami_id: str | None
    source: str
    region: str | None = None
    architecture: str | None = None
    family: str | None = None


def architecture_of(instance_type: str) -> str:
    """``arm64`` for Graviton types or families ('r7g', 'c6gn.8xlarge'), else ``x86_64``."""
    family = instance_type.strip().lower().split(".", 1)[0]
    return "arm64" if _ARM_FAMILY.match(family) else "x86_64"


def resolve_ami(cfg: BatchConfig, region: str | None = None) -> AmiChoice:
    """``batch.ami_id``, else the last build of the Packer manifest, else no AMI.

    ``artifact_id`` may list several regions (``"us-west-2:ami-1,us-east-1:ami-2"``); the one of
    ``region`` is picked, else the first. Raises ``ValueError`` for an unreadable manifest.
    """
    if cfg.ami_id:
        return AmiChoice(cfg.ami_id, "batch.ami_id")
    if not cfg.ami_manifest:
        return AmiChoice(None, "no batch.ami_id and no batch.ami_manifest")
    path = Path(cfg.ami_manifest)
    if not path.is_file():
        return AmiChoice(None, f"batch.ami_manifest {path} does not exist")
    try:
        build = json.loads(path.read_text())["builds"][-1]
        artifact = str(build["artifact_id"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        msg = f"batch.ami_manifest {path}: no builds[-1].artifact_id ({exc})"
        raise ValueError(msg) from exc
    data = build.get("custom_data") or {}
    pairs = [item.split(":", 1) for item in artifact.split(",") if item.strip()]
    by_region = {p[0].strip(): p[-1].strip() for p in pairs if len(p) == 2}
    ami_region: str | None
    if region and region in by_region:
        ami_region, ami = region, by_region[region]
    elif pairs:
        first = pairs[0]
        ami_region, ami = (first[0].strip() if len(first) == 2 else None), first[-1].strip()
    else:
        return AmiChoice(None, f"batch.ami_manifest {path}: empty artifact_id")
    return AmiChoice(
        ami, f"batch.ami_manifest {path}", region=ami_region or data.get("region"),
        architecture=data.get("architecture"), family=data.get("ami_family"),
    )


def ami_problems(cfg: BatchConfig, choice: AmiChoice, region: str | None) -> list[str]:
    """Mismatches between the AMI and the region, instance types and image type."""
    return _mismatches(cfg, choice.ami_id or "", choice.source, region, choice.region,
                       choice.architecture, choice.family)


def describe_problems(cfg: BatchConfig, ec2: Any, ami: str, region: str) -> list[str]:
    """The same checks on what EC2 says of ``ami`` in ``region`` (a read; nothing is created)."""
    from botocore.exceptions import ClientError

    try:
        images = ec2.describe_images(ImageIds=[ami])["Images"]
    except ClientError as exc:
        if "NotFound" not in exc.response.get("Error", {}).get("Code", "") and "Malformed" not in (
            exc.response.get("Error", {}).get("Code", "")
        ):
            raise
        images = []
    if not images:
        return [
            f"AMI {ami} does not exist in {region} (AMIs are regional): build it there with "
            f"`packer build -var region={region} packer/` or copy it with `aws ec2 copy-image`"
        ]
    image = images[0]
    tags = {t["Key"]: t["Value"] for t in image.get("Tags") or []}
    problems = []
    if image.get("State", "available") != "available":
        problems.append(f"AMI {ami} is {image.get('State')}, not available")
    arch = image.get("Architecture") or tags.get(ARCH_TAG)
    return problems + _mismatches(cfg, ami, f"AMI {ami}", None, None, arch, tags.get(FAMILY_TAG))


def _mismatches(
    cfg: BatchConfig, ami: str, source: str, region: str | None, ami_region: str | None,
    architecture: str | None, family: str | None,
) -> list[str]:
    problems = []
    if region and ami_region and ami_region != region:
        problems.append(
            f"AMI {ami} ({source}) was built in {ami_region} but the jobs run in {region}: "
            f"build it there with `packer build -var region={region} packer/`"
        )
    if architecture:
        wrong = [t for t in cfg.instance_types if architecture_of(t) != architecture]
        if wrong:
            problems.append(
                f"AMI {ami} ({source}) is {architecture} but batch.instance_types has "
                f"{', '.join(wrong)} ({architecture_of(wrong[0])}); list only "
                f"{architecture} types or build the AMI with -var architecture=..."
            )
    want = FAMILY_OF_IMAGE_TYPE.get(cfg.image_type)
    if family and want and family != want:
        problems.append(
            f"AMI {ami} ({source}) is {family} but batch.image_type = {cfg.image_type} "
            f"expects {want}: set batch.image_type to match the AMI"
        )
    return problems
