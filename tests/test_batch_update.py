"""Changing a running setup: what ``c4 submit`` sends when the AMI, the root volume or the
capacity changes, against a moto server; and AWS's update rules that moto does not enforce.

moto applies no ``computeResources`` update and keeps every environment VALID, so these tests
check the requests c4 sends (recorded at the boto3 parameter level) and, for the rules, c4's
own decision (:func:`c4.batch.environment.decide_update`) on described environments.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import pytest
from batch_helpers import Account, SentRequests, linked_service_role, make_account, write_config
from c4.batch import submit as sub
from c4.batch.environment import decide_update, replacement_name
from c4.batch.estimate import campaign_size
from c4.batch.requests import compute_environment_request
from c4.config import load_config


@pytest.fixture
def account(aws_env: str) -> Account:
    return make_account()


def submit(config: Path, *overrides: str) -> SentRequests:
    """``c4 submit --months 2`` of ``config`` (with ``section.key=value`` overrides); returns
    the calls it made (``.submitted``: what :func:`send_plan` reports)."""
    cfg = load_config(config, list(overrides))
    prepared = sub.prepare(cfg, sub.select_shards(cfg, 2, None),
                           config_url="s3://cfg-bucket/c4.toml", size=campaign_size(cfg, 20),
                           region="us-west-2")
    sent = SentRequests()
    sent.submitted = sub.send_plan(prepared, sent.session())
    return sent


def new_ami(tag: str) -> str:
    ec2 = boto3.client("ec2")
    ami = ec2.register_image(Name=f"c4-ecs-al2023-x86_64-{tag}", Architecture="x86_64",
                             RootDeviceName="/dev/xvda")["ImageId"]
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "c4:ami-family", "Value": "al2023"},
                                           {"Key": "c4:arch", "Value": "x86_64"}])
    return str(ami)


def test_new_ami_and_root_size_are_an_infrastructure_update_with_the_linked_role(
    account: Account, tmp_path: Path
) -> None:
    config, s = write_config(tmp_path / "c4.toml", account,
                             service_role_arn=linked_service_role())
    first = submit(config)
    assert first.last("batch.create_compute_environment")["computeEnvironmentName"] == f"c4-ce-{s}"
    ami = new_ami(s)

    second = submit(config, f'batch.ami_id="{ami}"', "batch.root_volume_gib=80")
    # The template change is a new version, and the environment pins it: visible to Batch.
    version = second.last("ec2.create_launch_template_version")
    root = version["LaunchTemplateData"]["BlockDeviceMappings"][0]
    assert root["DeviceName"] == "/dev/xvda" and root["Ebs"]["VolumeSize"] == 80
    (update,) = second.all("batch.update_compute_environment")
    assert update == {
        "computeEnvironment": f"c4-ce-{s}",
        "computeResources": {
            "launchTemplate": {"launchTemplateName": f"c4-lt-{s}", "version": "2"},
            "ec2Configuration": [{"imageType": "ECS_AL2023", "imageIdOverride": ami}],
        },
        # running jobs get 6 h, not Batch's default 30 min, before their instance is replaced
        "updatePolicy": {"terminateJobsOnUpdate": False, "jobExecutionTimeoutMinutes": 360},
    }
    assert not second.all("batch.create_compute_environment")  # updated in place
    assert second.all("batch.submit_job")  # and the job is submitted: UPDATING is no reason
    lt = boto3.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=f"c4-lt-{s}")["LaunchTemplateVersions"]
    assert sorted(v["VersionNumber"] for v in lt) == [1, 2]

    # Back to the first settings: the matching template version is reused, not duplicated.
    # (moto does not apply updates, so it still describes the first settings: no update.)
    third = submit(config)
    assert not third.all("ec2.create_launch_template_version")
    pinned = third.submitted.sent["batch.create_compute_environment"]["computeResources"]
    assert pinned["launchTemplate"]["version"] == "1"


def test_new_ami_with_a_custom_service_role_is_a_blue_green_swap(
    account: Account, tmp_path: Path
) -> None:
    # account.service_role is a custom role: AWS refuses infrastructure updates with it.
    config, s = write_config(tmp_path / "c4.toml", account)
    submit(config)
    ami = new_ami(s)
    second = submit(config, f'batch.ami_id="{ami}"', "batch.root_volume_gib=80")

    (created,) = second.all("batch.create_compute_environment")
    green = created["computeEnvironmentName"]
    assert green.startswith(f"c4-ce-{s}-") and len(green) == len(f"c4-ce-{s}") + 9
    cr = created["computeResources"]
    assert cr["ec2Configuration"] == [{"imageType": "ECS_AL2023", "imageIdOverride": ami}]
    assert cr["launchTemplate"] == {"launchTemplateName": f"c4-lt-{s}", "version": "2"}
    assert created["tags"]["c4-compute-environment"] == f"c4-ce-{s}"
    queue = second.last("batch.update_job_queue")
    assert queue["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": (
        f"arn:aws:batch:us-west-2:123456789012:compute-environment/{green}")}]
    updates = second.all("batch.update_compute_environment")
    assert updates == [{"computeEnvironment": f"c4-ce-{s}", "state": "DISABLED"}]
    # the old environment ran nothing (its ECS cluster has no task): deleted after the swap
    assert second.last("batch.delete_compute_environment") == {
        "computeEnvironment": f"c4-ce-{s}"}
    names = [e["computeEnvironmentName"] for e in
             boto3.client("batch").describe_compute_environments()["computeEnvironments"]]
    assert green in names and f"c4-ce-{s}" not in names

    # The next submit with the same settings finds the green environment through the queue.
    third = submit(config, f'batch.ami_id="{ami}"', "batch.root_volume_gib=80")
    assert not third.all("batch.create_compute_environment")
    assert not third.all("batch.update_compute_environment")


def test_capacity_change_is_a_scaling_update_with_any_role(
    account: Account, tmp_path: Path
) -> None:
    config, s = write_config(tmp_path / "c4.toml", account)
    submit(config)
    second = submit(config, "batch.max_vcpus=768")
    (update,) = second.all("batch.update_compute_environment")
    assert update == {"computeEnvironment": f"c4-ce-{s}",
                      "computeResources": {"maxvCpus": 768}}
    assert not second.all("batch.create_compute_environment")


def test_a_disabled_environment_is_enabled_again(account: Account, tmp_path: Path) -> None:
    config, s = write_config(tmp_path / "c4.toml", account)
    submit(config)
    boto3.client("batch").update_compute_environment(computeEnvironment=f"c4-ce-{s}",
                                                     state="DISABLED")
    again = submit(config)
    assert again.all("batch.update_compute_environment") == [
        {"computeEnvironment": f"c4-ce-{s}", "state": "ENABLED"}]


# --- the rules moto does not enforce, on described environments ---------------------------


def described(request: dict[str, Any], **top: Any) -> dict[str, Any]:
    """What DescribeComputeEnvironments returns for an environment made from ``request``: AWS
    adds ARNs and fields of its own (launchTemplateId, an instance-profile ARN, ...)."""
    cr = copy.deepcopy(request["computeResources"])
    cr["launchTemplate"]["launchTemplateId"] = "lt-0123456789abcdef0"
    cr["instanceRole"] = f"arn:aws:iam::123456789012:instance-profile/{cr['instanceRole']}"
    cr["ec2Configuration"][0]["imageKubernetesVersion"] = None
    env = {
        "computeEnvironmentName": request["computeEnvironmentName"],
        "computeEnvironmentArn": "arn:aws:batch:us-west-2:123456789012:compute-environment/x",
        "type": "MANAGED", "state": "ENABLED", "status": "VALID",
        "statusReason": "ComputeEnvironment Healthy", "computeResources": cr,
        "serviceRole": "arn:aws:iam::123456789012:role/aws-service-role/batch.amazonaws.com/"
                       "AWSServiceRoleForBatch",
        "ecsClusterArn": "arn:aws:ecs:us-west-2:123456789012:cluster/AWSBatch-x",
    }
    env.update(top)
    return env


def _request(ami: str = "ami-1", **batch: Any) -> dict[str, Any]:
    from c4.batch.config import BatchConfig

    cfg = BatchConfig(subnets=["subnet-1"], security_groups=["sg-1"], **batch)
    return compute_environment_request(cfg, ami)


def test_what_aws_adds_to_a_description_is_no_change() -> None:
    # Compared only on the keys c4 sets: an ARN for a name, extra keys AWS fills in.
    request = _request()
    assert decide_update(described(request), request).kind == "unchanged"


def test_infrastructure_updates_need_the_linked_role_and_a_progressive_strategy() -> None:
    # "Perform infrastructure updates" (Batch user guide): they need AWSServiceRoleForBatch and
    # BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED or SPOT_PRICE_CAPACITY_OPTIMIZED.
    env, new = described(_request()), _request(ami="ami-2")
    decision = decide_update(env, new)
    assert decision.kind == "infrastructure"
    assert decision.changes == {
        "ec2Configuration": [{"imageType": "ECS_AL2023", "imageIdOverride": "ami-2"}]}
    role = "arn:aws:iam::123456789012:role/my-batch-role"
    custom_env, custom_new = dict(env, serviceRole=role), dict(new, serviceRole=role)
    decision = decide_update(custom_env, custom_new)
    assert decision.kind == "blue-green" and "AWSServiceRoleForBatch" in decision.why
    best_fit = copy.deepcopy(env)
    best_fit["computeResources"]["allocationStrategy"] = "BEST_FIT"
    assert decide_update(best_fit, new).kind == "blue-green"
    # Only vCPU counts: a scaling update, allowed with any role.
    more = dict(_request(max_vcpus=999), serviceRole=role)
    assert decide_update(custom_env, more).kind == "scaling"
    assert decide_update(custom_env, more).changes == {"maxvCpus": 999}


def test_a_service_role_change_is_blue_green() -> None:
    request = _request()
    env = described(request)
    custom = dict(request, serviceRole="arn:aws:iam::123456789012:role/my-batch-role")
    assert decide_update(env, custom).kind == "blue-green"
    assert decide_update(dict(env, serviceRole=custom["serviceRole"]), request).kind == (
        "blue-green")


def test_invalid_and_disabled_environments_are_not_reported_unchanged() -> None:
    request = _request()
    invalid = described(request, status="INVALID",
                        statusReason="CLIENT_ERROR - instance profile not found")
    decision = decide_update(invalid, request)
    assert decision.kind == "invalid" and "instance profile not found" in decision.why
    changed = _request(max_vcpus=999)
    assert decide_update(invalid, changed).kind == "blue-green"
    assert decide_update(described(request, state="DISABLED"), request).kind == "enable"


def test_replacement_names_follow_the_settings() -> None:
    a = _request()
    assert replacement_name(a) == replacement_name(copy.deepcopy(a))
    assert replacement_name(a) != replacement_name(_request(ami="ami-2"))
    longest = _request(compute_environment="c" * 119)
    assert len(replacement_name(longest)) == 128  # the longest name AWS accepts


def test_a_replaced_environment_is_kept_while_its_tasks_are_unknown(
    account: Account, tmp_path: Path
) -> None:
    # Deleting an environment ends its jobs: c4 deletes one only when ECS says no task runs.
    from c4.batch.environment import retire_environments
    from c4.batch.requests import BASE_TAG

    config, s = write_config(tmp_path / "c4.toml", account)
    first = submit(config)
    old = dict(first.last("batch.create_compute_environment"),
               computeEnvironmentName=f"c4-ce-{s}-00000000")
    old["tags"] = {**old["tags"], BASE_TAG: f"c4-ce-{s}"}
    batch = boto3.client("batch")
    batch.create_compute_environment(**old)
    kept = retire_environments(batch, None, f"c4-ce-{s}", f"c4-q-{s}", settle_s=5)
    assert len(kept) == 1 and "kept while an unknown number" in kept[0]
    (env,) = batch.describe_compute_environments(
        computeEnvironments=[old["computeEnvironmentName"]])["computeEnvironments"]
    assert env["state"] == "DISABLED"  # no new job is placed there
    gone = retire_environments(batch, boto3.client("ecs"), f"c4-ce-{s}", f"c4-q-{s}",
                               settle_s=5)
    assert gone == [f"compute environment {old['computeEnvironmentName']}: deleted "
                    f"(no longer used by c4-q-{s})"]
    names = [e["computeEnvironmentName"] for e in
             batch.describe_compute_environments()["computeEnvironments"]]
    assert f"c4-ce-{s}" in names  # the one the queue uses stays
