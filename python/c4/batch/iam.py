"""Least-privilege IAM for c4 on Batch, printed by ``c4 iam-policy``.

Three roles:

- **job** (``batch.job_role_arn``, assumed by the container through ECS): list and read the input
  prefix, list/read/write/delete under the output prefix (results, manifest, atomic renames),
  read the config object. Nothing else: the SCEDC public bucket is read unsigned.
- **instance** (``batch.instance_role``, the EC2 instance profile): the AWS-managed
  ``AmazonEC2ContainerServiceforEC2Role`` (ECS agent, image pulls from ECR, CloudWatch logs) and
  nothing more.
- **service** (``batch.service_role_arn``): the AWS-managed ``AWSBatchServiceRole``; or leave
  it unset and Batch uses its service-linked role.
"""

from __future__ import annotations

from typing import Any, Literal

from c4.objstore import split_s3

RoleKind = Literal["job", "instance", "service"]
POLICY_VERSION = "2012-10-17"
INSTANCE_MANAGED_POLICY = (
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
)
SERVICE_MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole"
PRINCIPALS = {
    "job": "ecs-tasks.amazonaws.com",
    "instance": "ec2.amazonaws.com",
    "service": "batch.amazonaws.com",
}


def trust_policy(kind: RoleKind) -> dict[str, Any]:
    """Who may assume the role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": PRINCIPALS[kind]},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _split(url: str, what: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ValueError(f"{what} {url!r}: expected s3://bucket/prefix")
    return split_s3(url)


def _list_statement(sid: str, bucket: str, prefix: str) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    if prefix:
        statement["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    return statement


def _objects(bucket: str, prefix: str) -> str:
    return f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"


def job_policy(input_url: str, output_url: str, config_url: str | None = None) -> dict[str, Any]:
    """Inline policy of the job role, scoped to the given S3 prefixes."""
    in_bucket, in_prefix = _split(input_url, "--input")
    out_bucket, out_prefix = _split(output_url, "--output")
    statements = [
        _list_statement("ListInput", in_bucket, in_prefix),
        {
            "Sid": "ReadInput",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": _objects(in_bucket, in_prefix),
        },
        _list_statement("ListOutput", out_bucket, out_prefix),
        {
            "Sid": "WriteOutput",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": _objects(out_bucket, out_prefix),
        },
    ]
    if config_url:
        cfg_bucket, cfg_key = _split(config_url, "--config-url")
        statements.append(
            {
                "Sid": "ReadConfig",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{cfg_bucket}/{cfg_key}",
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def role_description(
    kind: RoleKind,
    input_url: str | None = None,
    output_url: str | None = None,
    config_url: str | None = None,
) -> dict[str, Any]:
    """Everything to create one role: trust policy, managed policies, inline policy (job)."""
    out: dict[str, Any] = {"Role": kind, "AssumeRolePolicyDocument": trust_policy(kind)}
    if kind == "job":
        if not input_url or not output_url:
            raise ValueError("the job policy needs --input s3://bucket/prefix and --output ...")
        out["ManagedPolicyArns"] = []
        out["PolicyDocument"] = job_policy(input_url, output_url, config_url)
    elif kind == "instance":
        out["ManagedPolicyArns"] = [INSTANCE_MANAGED_POLICY]
    else:
        out["ManagedPolicyArns"] = [SERVICE_MANAGED_POLICY]
    return out
