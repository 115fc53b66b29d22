"""``c4 iam-policy``: least-privilege JSON, scoped to the given S3 prefixes."""

from __future__ import annotations

import json

from batch_helpers import invoke
from c4.batch.iam import INSTANCE_MANAGED_POLICY, SERVICE_MANAGED_POLICY


def _statements(doc: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in doc["Statement"]}


def test_job_policy_reads_input_and_writes_output_prefix_only() -> None:
    out = invoke("iam-policy", "job", "--input", "s3://scedc-pds/continuous_waveforms",
                 "--output", "s3://my-results/c4/run1", "--config-url", "s3://my-cfg/c4.toml")
    assert out.exit_code == 0, out.output
    desc = json.loads(out.stdout)
    assert desc["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"}
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
                 "--document", "policy")
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
    trust = json.loads(invoke("iam-policy", "service", "--document", "trust").stdout)
    assert trust["Statement"][0]["Principal"] == {"Service": "batch.amazonaws.com"}


def test_job_policy_needs_s3_prefixes() -> None:
    out = invoke("iam-policy", "job", "--input", "/local/dir", "--output", "s3://out/b")
    assert out.exit_code == 2
    assert "expected s3://bucket/prefix" in out.stderr
    missing = invoke("iam-policy", "job")
    assert missing.exit_code == 2 and "--input" in missing.stderr
