"""Least-privilege IAM for c4 on Batch, printed by ``c4 iam-policy``.

Four roles:

- **job** (``batch.job_role_arn``, assumed by the container through ECS): list and read the input
  prefix, list/read/write/delete under the output prefix (results, manifest, atomic renames),
  read the config object, and optionally use the KMS keys of SSE-KMS buckets. Its trust policy
  names the account (``aws:SourceAccount``, ``aws:SourceArn``) so that no other account's ECS
  tasks can assume it (IAM User Guide, "The confused deputy problem").
- **instance** (``batch.instance_role``, the EC2 instance profile): the AWS-managed
  ``AmazonEC2ContainerServiceforEC2Role`` (ECS agent, image pulls from ECR, CloudWatch logs) and
  nothing more. The AMI and the launch template keep containers away from these credentials.
- **service** (``batch.service_role_arn``): the AWS-managed ``AWSBatchServiceRole``; better,
  leave it unset so Batch uses its service-linked role (needed for in-place updates).
- **submitter** (the person or CI running ``c4 submit``/``status``/``teardown``): the Batch, EC2,
  ECS, ECR, Logs and S3 calls those commands make, on c4's resources, and ``iam:PassRole`` of
  the job and instance roles.
"""

from __future__ import annotations

from typing import Any, Literal

from c4.objstore import split_s3

RoleKind = Literal["job", "instance", "service", "submitter"]
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


def trust_policy(kind: RoleKind, account: str | None = None,
                 region: str | None = None) -> dict[str, Any]:
    """Who may assume the role; with ``account``, only that account's ECS tasks or Batch."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": PRINCIPALS[kind]},
        "Action": "sts:AssumeRole",
    }
    # The EC2 principal assumes the instance role for the instance itself; the confused-deputy
    # keys are for service principals acting on a request (ECS tasks, Batch).
    if account and kind == "job":
        statement["Condition"] = {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{region or '*'}:{account}:*"},
        }
    elif account and kind == "service":
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


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


def job_policy(
    input_url: str, output_url: str, config_url: str | None = None,
    kms_keys: list[str] | None = None,
) -> dict[str, Any]:
    """Inline policy of the job role, scoped to the given S3 prefixes (and KMS keys)."""
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
    if kms_keys:
        # SSE-KMS buckets: reading needs kms:Decrypt, writing kms:GenerateDataKey (and Decrypt
        # for multipart uploads); only through S3 (AWS KMS "kms:ViaService").
        statements.append(
            {
                "Sid": "BucketKeys",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": list(kms_keys),
                "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def submitter_policy(
    account: str, region: str | None, *, names: dict[str, str], pass_roles: list[str],
    output_url: str | None = None, config_url: str | None = None,
) -> dict[str, Any]:
    """What ``c4 submit``, ``c4 status`` and ``c4 teardown`` call, on c4's resources.

    ``names``: ``compute_environment``, ``job_queue``, ``job_definition``, ``log_group`` (from
    ``[batch]``). Describe/List calls take no resource ARN in these APIs, so they are ``*``.
    """
    r = region or "*"
    batch = f"arn:aws:batch:{r}:{account}"
    ce, queue, jd = names["compute_environment"], names["job_queue"], names["job_definition"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": [
                "batch:DescribeComputeEnvironments", "batch:DescribeJobQueues",
                "batch:DescribeJobDefinitions", "batch:DescribeJobs", "batch:ListJobs",
                "ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions",
                "ec2:DescribeImages", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                "ecs:DescribeClusters", "logs:DescribeLogGroups",
            ],
            "Resource": "*",
        },
        {
            "Sid": "BatchResources",
            "Effect": "Allow",
            "Action": [
                "batch:CreateComputeEnvironment", "batch:UpdateComputeEnvironment",
                "batch:DeleteComputeEnvironment", "batch:CreateJobQueue",
                "batch:UpdateJobQueue", "batch:DeleteJobQueue", "batch:RegisterJobDefinition",
                "batch:DeregisterJobDefinition", "batch:SubmitJob", "batch:TerminateJob",
                "batch:TagResource",
            ],
            "Resource": [
                f"{batch}:compute-environment/{ce}", f"{batch}:compute-environment/{ce}-*",
                f"{batch}:job-queue/{queue}", f"{batch}:job-definition/{jd}",
                f"{batch}:job-definition/{jd}:*", f"{batch}:job/*",
            ],
        },
        {
            "Sid": "LaunchTemplate",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion",
                "ec2:DeleteLaunchTemplate", "ec2:CreateTags",
            ],
            "Resource": f"arn:aws:ec2:{r}:{account}:launch-template/*",
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup",
                       "logs:TagResource"],
            "Resource": f"arn:aws:logs:{r}:{account}:log-group:{names['log_group']}*",
        },
        {
            "Sid": "ImageDigest",
            "Effect": "Allow",
            "Action": "ecr:DescribeImages",
            "Resource": f"arn:aws:ecr:{r}:{account}:repository/*",
        },
        {
            # CreateComputeEnvironment passes the instance (and service) role to Batch, and
            # RegisterJobDefinition the job role (IAM User Guide, "Granting a user permissions
            # to pass a role to an AWS service").
            "Sid": "PassRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": pass_roles,
        },
        {
            # Batch creates its service-linked role on the first environment of an account.
            "Sid": "BatchLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": [
                "batch.amazonaws.com", "spot.amazonaws.com", "ecs.amazonaws.com"]}},
        },
    ]
    if output_url:
        bucket, prefix = _split(output_url, "--output")
        statements.append(_list_statement("ListOutput", bucket, prefix))
        statements.append({"Sid": "ReadManifest", "Effect": "Allow", "Action": "s3:GetObject",
                           "Resource": _objects(bucket, prefix)})
    if config_url:
        bucket, key = _split(config_url, "--config-url")
        statements.append({"Sid": "UploadConfig", "Effect": "Allow",
                           "Action": ["s3:PutObject", "s3:GetObject"],
                           "Resource": f"arn:aws:s3:::{bucket}/{key}"})
    return {"Version": POLICY_VERSION, "Statement": statements}


def role_arn(account: str, name_or_arn: str, kind: str = "role") -> str:
    """``name`` -> ``arn:aws:iam::<account>:<kind>/<name>``; ARNs are returned unchanged."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:iam::{account}:{kind}/{name_or_arn}"


def role_description(
    kind: RoleKind,
    input_url: str | None = None,
    output_url: str | None = None,
    config_url: str | None = None,
    *,
    account: str | None = None,
    region: str | None = None,
    kms_keys: list[str] | None = None,
) -> dict[str, Any]:
    """Everything to create one role: trust policy, managed policies, inline policy (job)."""
    if kind == "submitter":
        raise ValueError("the submitter policy is for a user or CI role: use submitter_policy")
    if kind == "job":
        if not input_url or not output_url:
            raise ValueError("the job policy needs --input s3://bucket/prefix and --output ...")
        _split(input_url, "--input")
        _split(output_url, "--output")
        if not account:
            raise ValueError(
                "the job role's trust policy names your account: pass --account 123456789012 "
                "(or a --config whose batch.job_role_arn or batch.image holds it)"
            )
    out: dict[str, Any] = {
        "Role": kind, "AssumeRolePolicyDocument": trust_policy(kind, account, region)}
    if kind == "job" and input_url and output_url:
        out["ManagedPolicyArns"] = []
        out["PolicyDocument"] = job_policy(input_url, output_url, config_url, kms_keys)
    elif kind == "instance":
        out["ManagedPolicyArns"] = [INSTANCE_MANAGED_POLICY]
    else:
        out["ManagedPolicyArns"] = [SERVICE_MANAGED_POLICY]
    return out
