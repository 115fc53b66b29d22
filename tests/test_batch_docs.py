"""docs/aws.md is a walkthrough a new account can follow: every c4 command it shows exists, and
it covers what a first real run needs (network, roles, BuildKit, ECR, teardown)."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from c4.cli import app

ROOT = Path(__file__).resolve().parents[1]
AWS_DOC = ROOT / "docs" / "aws.md"


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:bash|toml|python)?\n(.*?)```", text, flags=re.S)


def test_readme_links_the_walkthrough() -> None:
    assert "(docs/aws.md)" in (ROOT / "README.md").read_text()


def test_every_c4_command_in_the_walkthrough_exists() -> None:
    group = typer.main.get_command(app)
    commands = set(group.commands)  # type: ignore[attr-defined]
    used = set()
    for block in _code_blocks(AWS_DOC.read_text()):
        used |= set(re.findall(r"(?:^|[\s(\"$])c4 ([a-z][a-z-]+)", block, flags=re.M))
    assert {"submit", "status", "iam-policy", "teardown", "stack", "config"} <= used
    assert used <= commands, used - commands
    kinds = set(re.findall(r"c4 iam-policy (\w+)", AWS_DOC.read_text()))
    assert kinds == {"job", "instance", "service", "submitter"}


def test_the_walkthrough_covers_a_first_real_run() -> None:
    text = AWS_DOC.read_text()
    for needed in (
        "NAT gateway", "interface endpoints", "S3 gateway endpoint",  # network options, costs
        "RUNNABLE forever",  # why "reaches S3" is not enough
        "create-service-linked-role --aws-service-name batch.amazonaws.com",
        "--image-tag-mutability IMMUTABLE", "scanOnPush=true", "BuildKit",
        "c4 teardown", "deregister-image", "blue/green", "updatePolicy",
    ):
        assert needed in text, needed
