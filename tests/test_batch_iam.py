"""``c4 iam-policy``: least-privilege JSON, scoped to the given S3 prefixes and account."""

from __future__ import annotations

import json
from pathlib import Path

from batch_helpers import invoke, write_config
from c4.batch.iam import INSTANCE_MANAGED_POLICY, SERVICE_MANAGED_POLICY

ACCOUNT = "123456789012"


def _statements(doc: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in doc["Statement"]}


def test_job_policy_reads_input_and_writes_output_prefix_only() -> None:
    out = invoke("iam-policy", "job", "--input", "s3://scedc-pds/continuous_waveforms",
                 "--output", "s3://my-results/c4/run1", "--config-url", "s3://my-cfg/c4.toml",
                 "--account", ACCOUNT, "--region", "us-west-2")
    assert out.exit_code == 0, out.output
    desc = json.loads(out.stdout)
    (trust,) = desc["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    # confused deputy: only this account's ECS tasks may assume it
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:us-west-2:{ACCOUNT}:*"}}
    doc = desc["PolicyDocument"]
    assert doc["Version"] == "2012-10-17"
    st = _statements(doc)
    assert set(st) == {"ListInput", "ReadInput", "ListOutput", "WriteOutput", "ReadConfig"}
    assert all(s["Effect"] == "Allow" for s in st.values())
    assert st["ListInput"]["Resource"] == "arn:aws:s3:::scedc-pds"
    assert st["ListInput"]["Condition"]["StringLike"]["s3:prefix"] == [
        "continuous_waveforms", "continuous_waveforms/*"]
    assert st["ReadInput"]["Action"] == "s3:GetObject"
    assert st["ReadInput"]["Resource"] == "arn:aws:s3:::scedc-pds/continuous_waveforms/*"
    assert st["ListOutput"]["Condition"]["StringLike"]["s3:prefix"] == ["c4/run1", "c4/run1/*"]
    assert "s3:PutObject" in st["WriteOutput"]["Action"]
    assert st["WriteOutput"]["Resource"] == "arn:aws:s3:::my-results/c4/run1/*"
    assert st["ReadConfig"]["Resource"] == "arn:aws:s3:::my-cfg/c4.toml"
    # nothing is granted outside the three prefixes, and no wildcard actions
    for s in st.values():
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        assert all(r.startswith(("arn:aws:s3:::scedc-pds", "arn:aws:s3:::my-results",
                                 "arn:aws:s3:::my-cfg")) for r in resources)
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert all("*" not in a for a in actions)


def test_policy_document_alone_is_valid_iam_json() -> None:
    out = invoke("iam-policy", "job", "--input", "s3://in/a", "--output", "s3://out/b",
                 "--document", "policy", "--account", ACCOUNT)
    doc = json.loads(out.stdout)
    assert set(doc) == {"Version", "Statement"}


def test_instance_and_service_roles_use_only_the_aws_managed_policies() -> None:
    inst = json.loads(invoke("iam-policy", "instance").stdout)
    assert inst["ManagedPolicyArns"] == [INSTANCE_MANAGED_POLICY]
    assert "PolicyDocument" not in inst
    assert inst["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"}
    svc = json.loads(invoke("iam-policy", "service").stdout)
    assert svc["ManagedPolicyArns"] == [SERVICE_MANAGED_POLICY]
    trust = json.loads(invoke("iam-policy", "service", "--document", "trust",
                              "--account", ACCOUNT).stdout)
    assert trust["Statement"][0]["Principal"] == {"Service": "batch.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_job_policy_needs_s3_prefixes() -> None:
    out = invoke("iam-policy", "job", "--input", "/local/dir", "--output", "s3://out/b")
    assert out.exit_code == 2
    assert "expected s3://bucket/prefix" in out.stderr
    missing = invoke("iam-policy", "job")
    assert missing.exit_code == 2 and "--input" in missing.stderr
    no_account = invoke("iam-policy", "job", "--input", "s3://in/a", "--output", "s3://out/b")
    assert no_account.exit_code == 2 and "--account" in no_account.stderr


def test_kms_keys_of_sse_kms_buckets_are_granted_through_s3_only() -> None:
    key = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    doc = json.loads(invoke("iam-policy", "job", "--input", "s3://in/a", "--output",
                            "s3://out/b", "--account", ACCOUNT, "--kms-key", key,
                            "--document", "policy").stdout)
    st = _statements(doc)["BucketKeys"]
    assert st["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"] and st["Resource"] == [key]
    assert st["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}
    plain = json.loads(invoke("iam-policy", "job", "--input", "s3://in/a", "--output",
                              "s3://out/b", "--account", ACCOUNT, "--document", "policy").stdout)
    assert "BucketKeys" not in _statements(plain)


def test_a_config_on_s3_grants_reading_itself(tmp_path: Path, aws_env: str) -> None:
    # `--config s3://...` is the config the job reads: the policy must let it read it.
    import boto3

    config, _ = write_config(tmp_path / "c4.toml", None)
    boto3.client("s3").create_bucket(Bucket="iam-cfg",
                                     CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    boto3.client("s3").upload_file(str(config), "iam-cfg", "run/c4.toml")
    out = invoke("iam-policy", "job", "--config", "s3://iam-cfg/run/c4.toml",
                 "--document", "policy")
    assert out.exit_code == 0, out.output
    st = _statements(json.loads(out.stdout))
    assert st["ReadConfig"]["Resource"] == "arn:aws:s3:::iam-cfg/run/c4.toml"
    assert st["WriteOutput"]["Resource"] == "arn:aws:s3:::c4-out/run/*"  # from output.output
    local = invoke("iam-policy", "job", "--config", str(config), "--document", "policy")
    assert local.exit_code == 0 and "--config-url" in local.stderr  # told what is missing


def test_submitter_policy_covers_what_submit_status_and_teardown_call(tmp_path: Path) -> None:
    config, s = write_config(tmp_path / "c4.toml", None)
    out = invoke("iam-policy", "submitter", "--config", str(config), "--config-url",
                 "s3://cfg/c4.toml")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    st = _statements(doc)
    actions = {a for s_ in doc["Statement"] for a in (
        s_["Action"] if isinstance(s_["Action"], list) else [s_["Action"]])}
    # every AWS call the code makes (c4.batch.*) is allowed
    for needed in ("batch:CreateComputeEnvironment", "batch:UpdateComputeEnvironment",
                   "batch:DeleteComputeEnvironment", "batch:SubmitJob", "batch:DescribeJobs",
                   "batch:DeregisterJobDefinition", "ec2:CreateLaunchTemplateVersion",
                   "ec2:DescribeImages", "ecr:DescribeImages", "ecs:DescribeClusters",
                   "logs:PutRetentionPolicy", "iam:PassRole", "s3:GetObject"):
        assert needed in actions, needed
    assert all("*" not in a.split(":", 1)[1] for a in actions)
    resources = st["BatchResources"]["Resource"]
    assert f"arn:aws:batch:us-west-2:{ACCOUNT}:compute-environment/c4-ce-{s}" in resources
    assert f"arn:aws:batch:us-west-2:{ACCOUNT}:job-queue/c4-q-{s}" in resources
    assert set(st["PassRoles"]["Resource"]) == {
        f"arn:aws:iam::{ACCOUNT}:role/ecsInstanceRole", f"arn:aws:iam::{ACCOUNT}:role/c4-job",
        f"arn:aws:iam::{ACCOUNT}:role/batch"}
    assert st["BatchLinkedRole"]["Condition"]["StringEquals"]["iam:AWSServiceName"][0] == (
        "batch.amazonaws.com")
