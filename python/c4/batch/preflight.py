"""Read-only checks of a real submit, made after validation and before anything is created.

- The AMI exists in the region, is available, and matches the instance types and image type
  (:func:`c4.batch.ami.describe_problems`).
- The image tag exists in its ECR repository, and resolves to a digest that the job definition
  pins: a tag can be moved (unless the repository is immutable), and an array whose children
  pull a moved tag would run two images. An image missing from ECR would fail every child with
  CannotPullContainerError after its instance has started, so it is refused here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from c4.batch.rules import ECR_IMAGE


@dataclass
class ResolvedImage:
    """The image the job definition uses, and what was learnt on the way."""

    image: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resolve_image(session: Any, image: str, region: str | None) -> ResolvedImage:
    """``repo@sha256:...`` for an ECR ``repo:tag`` that exists; the image unchanged (with a note)
    where the digest cannot be learnt; a problem when ECR says the tag or repository is absent."""
    match = ECR_IMAGE.match(image)
    if match is None:
        return ResolvedImage(image, notes=[
            f"batch.image {image} is not in ECR: the job definition uses the tag, which can "
            "move between children; push to ECR with immutable tags (docs/aws.md)"])
    if match["digest"]:
        return ResolvedImage(image)
    notes = []
    if region and match["region"] != region:
        notes.append(f"batch.image is in {match['region']}, the jobs run in {region}: every "
                     "pull crosses regions (slower, and billed as transfer)")
    tag = match["tag"] or "latest"
    ecr = session.client("ecr", region_name=match["region"])
    try:
        details = ecr.describe_images(
            registryId=match["account"], repositoryName=match["repository"],
            imageIds=[{"imageTag": tag}],
        )["imageDetails"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return ResolvedImage(image, problems=[
                f"batch.image {image}: {code.removesuffix('Exception')} in ECR; push the image "
                "first (docs/aws.md, step 3)"])
        return ResolvedImage(image, notes=[*notes, f"could not resolve the digest of {image} "
                                           f"({code}); the job definition uses the tag"])
    except BotoCoreError as exc:
        return ResolvedImage(image, notes=[*notes, f"could not resolve the digest of {image} "
                                           f"({exc}); the job definition uses the tag"])
    if not details or not details[0].get("imageDigest"):
        return ResolvedImage(image, problems=[f"batch.image {image}: no such tag in ECR"])
    pinned = f"{match['registry']}/{match['repository']}@{details[0]['imageDigest']}"
    return ResolvedImage(pinned, notes=notes)
