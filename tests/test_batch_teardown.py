"""``c4 teardown`` against a moto server: everything ``c4 submit`` made goes, nothing else."""

from __future__ import annotations

from pathlib import Path

import boto3
from batch_helpers import invoke, make_account, names_exist, write_config


def test_teardown_removes_what_submit_created_including_replaced_environments(
    aws_env: str, tmp_path: Path
) -> None:
    account = make_account()
    config, s = write_config(tmp_path / "c4.toml", account)
    args = ("--config", str(config), "--config-url", "s3://cfg-bucket/c4.toml")
    assert invoke("submit", "--months", "2", *args).exit_code == 0
    # a second environment: a memory-and-AMI change with a custom role swaps blue/green
    other = boto3.client("ec2").register_image(Name=f"other-{s}", RootDeviceName="/dev/xvda")
    boto3.client("ec2").create_tags(Resources=[other["ImageId"]], Tags=[
        {"Key": "c4:ami-family", "Value": "al2023"}, {"Key": "c4:arch", "Value": "x86_64"}])
    swapped = invoke("submit", "--months", "2", *args, "--ami-id", other["ImageId"])
    assert swapped.exit_code == 0, swapped.output
    assert "replaced" in swapped.stdout
    batch = boto3.client("batch")
    envs = [e["computeEnvironmentName"] for e in
            batch.describe_compute_environments()["computeEnvironments"]
            if e["computeEnvironmentName"].startswith(f"c4-ce-{s}")]
    assert len(envs) == 1 and envs[0] != f"c4-ce-{s}"  # the old one was idle: deleted
    unrelated = boto3.client("ec2").create_launch_template(
        LaunchTemplateName=f"keep-{s}", LaunchTemplateData={})

    dry = invoke("teardown", "--dry-run", "--config", str(config))
    assert dry.exit_code == 0, dry.output
    for line in (f"job queue c4-q-{s}: would delete", f"compute environment {envs[0]}: would "
                 "delete", f"launch template c4-lt-{s}: would delete",
                 f"log group /aws/batch/c4-{s}: would delete", "would be deregistered"):
        assert line in dry.stdout, line
    exist = names_exist(s)  # a dry run removes nothing (the base name was replaced)
    assert exist.pop("compute environment") is False and all(exist.values())
    assert batch.describe_compute_environments(computeEnvironments=envs)["computeEnvironments"]

    done = invoke("teardown", "--config", str(config))
    assert done.exit_code == 0, done.output
    assert not any(names_exist(s).values())
    remaining = [e["computeEnvironmentName"] for e in
                 batch.describe_compute_environments()["computeEnvironments"]]
    assert not [n for n in remaining if n.startswith(f"c4-ce-{s}")]
    active = batch.describe_job_definitions(jobDefinitionName=f"c4-jd-{s}", status="ACTIVE")
    assert active["jobDefinitions"] == []
    assert not boto3.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/batch/c4-{s}")["logGroups"]
    templates = boto3.client("ec2").describe_launch_templates()["LaunchTemplates"]
    assert unrelated["LaunchTemplate"]["LaunchTemplateName"] in [
        t["LaunchTemplateName"] for t in templates]
    # the account's own things stay: AMI, image, bucket
    assert boto3.client("ec2").describe_images(ImageIds=[account.ami])["Images"]
    again = invoke("teardown", "--config", str(config))
    assert again.exit_code == 0 and "nothing to remove" in again.stdout
