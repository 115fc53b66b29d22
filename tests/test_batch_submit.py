"""``c4 submit`` against a moto server over HTTP: resources field by field, idempotency,
revisions, one-shard jobs, dry-run equality, offline dry-run, status and re-runs."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import typer
from batch_helpers import Account, SentRequests, invoke, make_account, write_config
from c4.batch import submit as sub
from c4.batch.resources import latest_job_definition
from c4.cli import app
from c4.config import load_config
from c4.shards import current_shard


@pytest.fixture
def account(aws_env: str) -> Account:
    return make_account()


def submitted_id(result: Any) -> str:
    assert result.exit_code == 0, result.output
    match = re.search(r"Submitted job (\S+)", result.stdout)
    assert match, result.stdout
    return match.group(1)


def wait_children(job_id: str, size: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Poll until all children of ``job_id`` have finished; returns them."""
    batch = boto3.client("batch")
    deadline = time.monotonic() + timeout_s
    while True:
        ids = [f"{job_id}:{i}" for i in range(size)]
        jobs = batch.describe_jobs(jobs=ids)["jobs"]
        if len(jobs) == size and all(j["status"] in ("SUCCEEDED", "FAILED") for j in jobs):
            return jobs
        assert time.monotonic() < deadline, [j["status"] for j in jobs]
        time.sleep(0.2)


def test_submit_creates_every_resource_with_the_requested_fields(
    account: Account, tmp_path: Path
) -> None:
    config, s = write_config(tmp_path / "c4.toml", account)
    result = invoke("submit", "--months", "12", "--config", str(config),
                    "--config-url", "s3://cfg-bucket/c4.toml")
    job_id = submitted_id(result)
    batch, ec2 = boto3.client("batch"), boto3.client("ec2")

    lt = ec2.describe_launch_template_versions(
        LaunchTemplateName=f"c4-lt-{s}", Versions=["$Latest"])["LaunchTemplateVersions"][0]
    data = lt["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    devices = {m["DeviceName"]: m["Ebs"] for m in data["BlockDeviceMappings"]}
    assert set(devices) == {"/dev/xvda", "/dev/xvdb"}
    assert all(ebs["Encrypted"] is True for ebs in devices.values())

    ce = batch.describe_compute_environments(
        computeEnvironments=[f"c4-ce-{s}"])["computeEnvironments"][0]
    assert ce["type"] == "MANAGED" and ce["state"] == "ENABLED"
    assert ce["serviceRole"] == account.service_role
    cr = ce["computeResources"]
    assert cr["type"] == "SPOT"
    assert cr["allocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert (cr["minvCpus"], cr["desiredvCpus"], cr["maxvCpus"]) == (0, 0, 384)
    assert cr["instanceTypes"] == ["r5.8xlarge"]
    assert cr["subnets"] == [account.subnet]
    assert cr["securityGroupIds"] == [account.security_group]
    assert cr["instanceRole"] == account.instance_profile
    assert cr["bidPercentage"] == 100
    assert cr["launchTemplate"] == {"launchTemplateName": f"c4-lt-{s}",
                                    "version": str(lt["VersionNumber"])}
    assert cr["ec2Configuration"] == [{"imageType": "ECS_AL2023", "imageIdOverride": account.ami}]

    queue = batch.describe_job_queues(jobQueues=[f"c4-q-{s}"])["jobQueues"][0]
    assert queue["state"] == "ENABLED"
    assert [o["computeEnvironment"].rsplit("/", 1)[-1]
            for o in queue["computeEnvironmentOrder"]] == [f"c4-ce-{s}"]

    (jd,) = batch.describe_job_definitions(jobDefinitionName=f"c4-jd-{s}")["jobDefinitions"]
    assert jd["revision"] == 1 and jd["type"] == "container"
    assert jd["platformCapabilities"] == ["EC2"]
    cp = jd["containerProperties"]
    registry, _, _ = account.image.partition("/")
    assert cp["image"] == f"{account.image.rsplit(':', 1)[0]}@{account.digest}"  # pinned
    assert cp["image"].startswith(registry + "/")
    assert cp["command"] == ["correlate", "--config", "s3://cfg-bucket/c4.toml"]
    assert {r["type"]: r["value"] for r in cp["resourceRequirements"]} == {
        "VCPU": "32", "MEMORY": "200000"}
    assert {e["name"]: e["value"] for e in cp["environment"]} == {
        "C4_CONFIG": "s3://cfg-bucket/c4.toml", "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_EC2_METADATA_DISABLED": "true"}
    assert cp["jobRoleArn"] == "arn:aws:iam::123456789012:role/c4-job"
    assert cp["linuxParameters"] == {"initProcessEnabled": True}
    assert cp["logConfiguration"] == {"logDriver": "awslogs", "options": {
        "awslogs-group": f"/aws/batch/c4-{s}", "awslogs-stream-prefix": "c4"}}
    (group,) = boto3.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/batch/c4-{s}")["logGroups"]
    assert group["retentionInDays"] == 90
    assert cp["volumes"] == [{"host": {"sourcePath": "/docker_scratch"}, "name": "scratch"}]
    assert cp["mountPoints"] == [
        {"containerPath": "/scratch", "readOnly": False, "sourceVolume": "scratch"}]
    assert jd["timeout"] == {"attemptDurationSeconds": 36000}
    retry = jd["retryStrategy"]
    assert retry["attempts"] == 3
    rules = [{k: (v.upper() if k == "action" else v) for k, v in r.items()}
             for r in retry["evaluateOnExit"]]  # moto lower-cases the actions
    assert rules == [{"onStatusReason": "Host EC2*", "action": "RETRY"},
                     {"onStatusReason": "Task failed to start*", "action": "RETRY"},
                     {"onReason": "CannotPullContainerError*", "action": "RETRY"},
                     {"onExitCode": "143", "action": "RETRY"},
                     {"onReason": "*", "action": "EXIT"}]

    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["arrayProperties"]["size"] == 12
    assert len(wait_children(job_id, 12)) == 12
    children = batch.list_jobs(arrayJobId=job_id)["jobSummaryList"]
    assert len(children) == 12
    assert "child i runs" not in result.stdout  # shards 0..11: no index map travels


def test_resubmit_is_idempotent_and_a_memory_change_adds_exactly_one_revision(
    account: Account, tmp_path: Path
) -> None:
    config, s = write_config(tmp_path / "c4.toml", account)
    args = ("submit", "--months", "2", "--config", str(config),
            "--config-url", "s3://cfg-bucket/c4.toml")
    submitted_id(invoke(*args))
    second = invoke(*args)
    submitted_id(second)
    for kind in ("log group", "launch template", "compute environment", "job queue",
                 "job definition"):
        assert re.search(rf"{kind}\s.*unchanged", second.stdout), second.stdout
    batch, ec2 = boto3.client("batch"), boto3.client("ec2")

    def revisions() -> list[int]:
        jds = batch.describe_job_definitions(jobDefinitionName=f"c4-jd-{s}")["jobDefinitions"]
        return sorted(jd["revision"] for jd in jds)

    assert revisions() == [1]
    assert len(ec2.describe_launch_template_versions(
        LaunchTemplateName=f"c4-lt-{s}")["LaunchTemplateVersions"]) == 1
    ces = batch.describe_compute_environments()["computeEnvironments"]
    assert [c["computeEnvironmentName"] for c in ces].count(f"c4-ce-{s}") == 1

    changed = invoke(*args, "--memory-mib", "190000")
    submitted_id(changed)
    assert re.search(r"job definition\s.*new revision", changed.stdout), changed.stdout
    assert revisions() == [1, 2]
    submitted_id(invoke(*args, "--memory-mib", "190000"))
    assert revisions() == [1, 2]
    latest = latest_job_definition(batch, f"c4-jd-{s}")
    assert latest is not None
    memory = {r["type"]: r["value"] for r in latest["containerProperties"]["resourceRequirements"]}
    assert memory["MEMORY"] == "190000"


def test_one_month_is_a_plain_job_whose_command_carries_its_shard(
    account: Account, tmp_path: Path
) -> None:
    # AWS sets AWS_BATCH_JOB_ARRAY_INDEX only in array children (arrays have 2-10000), so the
    # single shard must travel in the command, or the container exits with "no shard index".
    config, _ = write_config(tmp_path / "c4.toml", account)
    result = invoke("submit", "--months", "1", "--start", "2017-03", "--config", str(config),
                    "--config-url", "s3://cfg-bucket/c4.toml")
    job_id = submitted_id(result)
    (job,) = boto3.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    assert "arrayProperties" not in job or not job["arrayProperties"]
    command = job["container"]["command"]
    assert command == ["correlate", "--config", "s3://cfg-bucket/c4.toml", "--index", "2"]
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert "C4_SHARD_MAP" not in env
    # What the container makes of it: `c4 correlate` parses --index 2, and with no array index
    # and no map in the environment (a plain Batch job) that is the shard it runs.
    correlate = typer.main.get_command(app).get_command(None, "correlate")  # type: ignore[attr-defined]
    params = correlate.make_context("correlate", command[1:]).params
    assert current_shard(params["index"], environ={}) == 2
    status = json.loads(invoke("status", job_id, "--json").stdout)
    assert [c["shard"] for c in status["children"]] == [2]


def _prepared(config: Path, months: int, start: str | None = None) -> sub.Prepared:
    cfg = load_config(config)
    from c4.batch.estimate import campaign_size

    return sub.prepare(cfg, sub.select_shards(cfg, months, start),
                       config_url="s3://cfg-bucket/c4.toml", size=campaign_size(cfg, 50),
                       region="us-west-2")


def test_dry_run_prints_exactly_the_requests_a_submit_sends(
    account: Account, tmp_path: Path
) -> None:
    config, _ = write_config(tmp_path / "c4.toml", account)
    common = ("--months", "4", "--start", "2017-03", "--config", str(config),
              "--config-url", "s3://cfg-bucket/c4.toml", "--stations", "50")
    dry = invoke("submit", "--dry-run", *common)
    assert dry.exit_code == 0, dry.output
    printed = json.loads(dry.stdout)
    assert printed["shards"] == [2, 3, 4, 5]
    assert printed["problems"] == []

    # The real submit, observed at the boto3 parameter level while it talks to moto.
    sent = SentRequests()
    sub.send_plan(_prepared(config, 4, "2017-03"), sent.session())
    for op, request in printed["requests"].items():
        if op == "batch.register_job_definition":
            # the one value a dry run cannot know: the tag's digest, pinned by the submit
            image = request["containerProperties"]["image"]
            assert image == account.image
            pinned = f"{image.rsplit(':', 1)[0]}@{account.digest}"
            request = copy.deepcopy(request)
            request["containerProperties"]["image"] = pinned
            request["tags"]["c4-spec-sha256"] = sent.last(op)["tags"]["c4-spec-sha256"]
        assert sent.last(op) == request, op
    env = sent.last("batch.submit_job")["containerOverrides"]["environment"]
    assert env == [{"name": "C4_SHARD_MAP", "value": "2,3,4,5"}]
    assert printed["estimate"]["shards"] == 4
    assert printed["estimate"]["days"] == 31 + 30 + 31 + 30


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def _offline(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{_closed_port()}"
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
    env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    return env


def _c4(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from c4.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_dry_run_needs_no_credentials_and_no_network(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path / "c4.toml", None)
    out = _c4(["submit", "--dry-run", "--months", "12", "--stations", "400", "--config",
               str(config), "--config-url", "s3://cfg-bucket/c4.toml"], _offline(tmp_path))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["requests"]["batch.submit_job"]["arrayProperties"] == {"size": 12}
    estimate = doc["estimate"]
    assert estimate["shards"] == 12 and estimate["days"] == 365
    assert estimate["station_days"] == 365 * 400
    assert 0 < estimate["spot_cost_usd"] < estimate["on_demand_cost_usd"]
    assert "Traceback" not in out.stderr


def test_dry_run_prints_the_estimate_beside_every_problem(tmp_path: Path) -> None:
    # A fresh config: no image, no job role, no network, a local output. A real submit refuses
    # each of them; the dry run lists them all and still prints the requests and the estimate.
    config = tmp_path / "c4.toml"
    config.write_text('[data]\nstart = 2017-01-01\nend = 2017-12-31\n')
    out = _c4(["submit", "--dry-run", "--months", "12", "--config", str(config)],
              _offline(tmp_path))
    assert out.returncode == 2, out.stderr
    doc = json.loads(out.stdout)
    problems = "\n".join(doc["problems"])
    for fragment in ("batch.image is unset", "batch.job_role_arn is unset",
                     "batch.subnets is empty", "output.output = 'c4-results' is not s3://",
                     "not an s3:// URL", "no AMI", "batch.timeout_s is unset"):
        assert fragment in problems, fragment
    estimate = doc["estimate"]
    assert estimate["stations_assumed"] is True and estimate["stations"] > 0
    assert estimate["costs"]["total_spot"] > 0 and estimate["timeout_s"] >= 3600
    assert any("station count assumed" in n for n in estimate["notes"])
    assert "a real submit would be refused" in out.stderr
    assert "Traceback" not in out.stderr


def test_status_reports_the_children_by_state(account: Account, tmp_path: Path) -> None:
    config, _ = write_config(tmp_path / "c4.toml", account)
    job_id = submitted_id(invoke("submit", "--months", "3", "--config", str(config),
                                 "--config-url", "s3://cfg-bucket/c4.toml"))
    wait_children(job_id, 3)
    as_json = invoke("status", job_id, "--config", str(config), "--json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["size"] == 3
    assert report["counts"]["SUCCEEDED"] == 3
    assert [c["shard"] for c in report["children"]] == [0, 1, 2]
    assert report["completed_shards"] == []
    table = invoke("status", job_id, "--config", str(config))
    assert table.exit_code == 0
    assert "SUCCEEDED" in table.stdout and "3 children" in table.stdout


def _failed_job(config: Path, months: int, start: str, monkeypatch: pytest.MonkeyPatch) -> str:
    args = ("--config", str(config), "--config-url", "s3://cfg-bucket/c4.toml")
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")  # read by the in-process server
    job = submitted_id(invoke("submit", "--months", str(months), "--start", start, *args))
    monkeypatch.delenv("MOTO_SIMPLE_BATCH_FAIL_AFTER")
    assert all(j["status"] == "FAILED" for j in wait_children(job, months))
    return job


def test_rerun_submits_only_the_failed_incomplete_shards_with_their_index_map(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = write_config(tmp_path / "c4.toml", account)
    cfg = load_config(config)
    args = ("--config", str(config), "--config-url", "s3://cfg-bucket/c4.toml")
    failed_job = _failed_job(config, 4, "2017-03", monkeypatch)

    status = json.loads(invoke("status", failed_job, "--config", str(config), "--json").stdout)
    assert status["counts"]["FAILED"] == 4
    assert [c["shard"] for c in status["children"]] == [2, 3, 4, 5]
    assert all(c["log_stream"] for c in status["children"])
    table = invoke("status", failed_job, "--config", str(config))
    assert "failed children" in table.stdout and f"--rerun {failed_job}" in table.stdout

    # Shard 3 finished before its child failed (its manifest entry exists): not re-run.
    from c4.store import output_location, write_shard_entry

    write_shard_entry(output_location(cfg.output.output), 3, {"shard": 3})
    rerun = invoke("submit", "--rerun", failed_job, *args)
    rerun_id = submitted_id(rerun)
    batch = boto3.client("batch")
    (job,) = batch.describe_jobs(jobs=[rerun_id])["jobs"]
    assert job["arrayProperties"]["size"] == 3
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["C4_SHARD_MAP"] == "2,4,5"
    wait_children(rerun_id, 3)
    again = json.loads(invoke("status", rerun_id, "--config", str(config), "--json").stdout)
    assert [c["shard"] for c in again["children"]] == [2, 4, 5]
    assert again["completed_shards"] == [3]

    # A child that succeeded without completing its shard (days without files) is re-run too.
    for done in (2, 4):
        write_shard_entry(output_location(cfg.output.output), done, {"shard": done})
    once_more = submitted_id(invoke("submit", "--rerun", rerun_id, *args))
    (job,) = batch.describe_jobs(jobs=[once_more])["jobs"]
    assert job["container"]["command"][-2:] == ["--index", "5"]
    write_shard_entry(output_location(cfg.output.output), 5, {"shard": 5})
    nothing = invoke("submit", "--rerun", rerun_id, *args)
    assert nothing.exit_code == 2
    assert "nothing to re-run" in nothing.stderr


def test_rerun_of_one_failed_child_is_a_plain_job_carrying_its_shard(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The most common re-run: one month of an array failed. It must not be sent as an "array
    # of one" (AWS rejects size 1) nor as a plain job relying on AWS_BATCH_JOB_ARRAY_INDEX.
    config, _ = write_config(tmp_path / "c4.toml", account)
    cfg = load_config(config)
    failed_job = _failed_job(config, 3, "2017-06", monkeypatch)
    from c4.store import output_location, write_shard_entry

    for done in (5, 7):  # children 0 and 2 had finished their months
        write_shard_entry(output_location(cfg.output.output), done, {"shard": done})
    rerun_id = submitted_id(invoke("submit", "--rerun", failed_job, "--config", str(config),
                                   "--config-url", "s3://cfg-bucket/c4.toml"))
    (job,) = boto3.client("batch").describe_jobs(jobs=[rerun_id])["jobs"]
    assert not job.get("arrayProperties")
    assert job["container"]["command"][-2:] == ["--index", "6"]
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert "C4_SHARD_MAP" not in env
    status = json.loads(invoke("status", rerun_id, "--json").stdout)
    assert status["size"] == 1 and [c["shard"] for c in status["children"]] == [6]


def test_rerun_selection_maps_failed_children_through_the_parent_map() -> None:
    selection = sub.rerun_selection([1, 3], [10, 11, 12, 13], completed={13})
    assert selection.shards == [11] and selection.shard_map == [11]
    full = sub.rerun_selection([0, 1], [0, 1])
    assert full.shard_map == [0, 1]  # a re-run always carries its map
