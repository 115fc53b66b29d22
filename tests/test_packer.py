"""The Packer template of the c4 job AMI (packer/c4-ami.pkr.hcl).

Two kinds of checks: the parsed template (python-hcl2) has the settings the AMI must have, and
Packer itself validates it and evaluates its locals. The Packer checks need the `packer` binary
(Debian's 1.6.6, installed by .ci/run): they skip where it is missing, except in CI (CI set),
where a missing binary is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKER_DIR = ROOT / "packer"
TEMPLATE = PACKER_DIR / "c4-ami.pkr.hcl"
PLUGINS = PACKER_DIR / "plugins.pkr.hcl"
SCRIPTS = PACKER_DIR / "scripts"
SCRATCH_DEVICE = "/dev/xvdb"


def _load(path: Path) -> dict[str, Any]:
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
    with path.open() as f:
        return hcl2.load(f, serialization_options=options)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _load(TEMPLATE)


@pytest.fixture(scope="module")
def variables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: body for block in template["variable"] for name, body in block.items()}


@pytest.fixture(scope="module")
def locals_(template: dict[str, Any]) -> dict[str, Any]:
    return {name: value for block in template["locals"] for name, value in block.items()}


@pytest.fixture(scope="module")
def source(template: dict[str, Any]) -> dict[str, Any]:
    (block,) = template["source"]
    return block["amazon-ebs"]["c4"]


@pytest.fixture(scope="module")
def build(template: dict[str, Any]) -> dict[str, Any]:
    (block,) = template["build"]
    return block


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"`{name}` is not installed; CI must run this check (.ci/run installs it)")
        pytest.skip(f"`{name}` is not installed (CI installs it)")
    return path


def _packer(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHECKPOINT_DISABLE": "1"}
    return subprocess.run(
        [_binary("packer"), *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
        env=env, timeout=120,
    )


def _console(expression: str, *var_args: str) -> str:
    """Evaluate one expression with `packer console` on the template."""
    result = _packer("console", *var_args, str(TEMPLATE), stdin=expression + "\n")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- the parsed template -----------------------------------------------------------------


EXPECTED_VARIABLES = {
    "region", "architecture", "ami_family", "instance_type", "scratch_size_gb",
    "scratch_volume_type", "scratch_throughput", "scratch_iops", "encrypted", "kms_key_id",
    "ami_name_prefix",
}


def test_every_variable_is_typed_described_defaulted_and_validated(variables):
    assert set(variables) == EXPECTED_VARIABLES
    for name, body in variables.items():
        assert body.get("type") in {"string", "number", "bool"}, name
        assert len(body.get("description", "")) > 20, name
        assert "default" in body, name
        if body["type"] != "bool":  # a bool is fully checked by its type
            (rule,) = body["validation"]
            assert f"var.{name}" in rule["condition"], name
            assert rule["error_message"].startswith("The "), name


def test_defaults_are_al2023_x86_64_encrypted_gp3(variables):
    assert variables["ami_family"]["default"] == "al2023"
    assert variables["architecture"]["default"] == "x86_64"
    assert variables["encrypted"]["default"] is True
    assert variables["scratch_volume_type"]["default"] == "gp3"
    assert 125 <= variables["scratch_throughput"]["default"] <= 1000
    assert 3000 <= variables["scratch_iops"]["default"] <= 16000


def test_source_ami_filter_is_amazon_ecs_optimized_most_recent(source, locals_):
    (ami_filter,) = source["source_ami_filter"]
    assert ami_filter["owners"] == ["amazon"]
    assert ami_filter["most_recent"] is True
    filters = ami_filter["filters"]
    assert filters["name"] == "${local.source_ami_name[var.ami_family]}"
    assert filters["architecture"] == "${var.architecture}"
    assert filters["virtualization-type"] == "hvm"
    assert filters["root-device-type"] == "ebs"
    assert locals_["source_ami_name"] == {
        "al2023": "al2023-ami-ecs-hvm-*-kernel-6.*-${var.architecture}",
        "al2": "amzn2-ami-ecs-hvm-*-${var.architecture}-ebs",
    }


def test_scratch_volume_is_mapped_encrypted_and_deleted_on_termination(source):
    (mapping,) = source["launch_block_device_mappings"]
    assert mapping["device_name"] == SCRATCH_DEVICE
    assert mapping["encrypted"] == "${var.encrypted}"
    assert mapping["delete_on_termination"] is True
    assert mapping["volume_size"] == "${var.scratch_size_gb}"
    assert mapping["volume_type"] == "${var.scratch_volume_type}"
    assert mapping["throughput"] == "${local.scratch_throughput}"
    assert mapping["iops"] == "${local.scratch_iops}"
    assert mapping["kms_key_id"] == "${local.scratch_kms_key_id}"


def _paths_to(node: Any, needle: str, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of the parsed template whose value mentions ``needle``."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _paths_to(v, needle, (*path, str(k)))]
    if isinstance(node, list):
        return [p for item in node for p in _paths_to(item, needle, path)]
    return [path] if needle in str(node) else []


def test_the_kms_key_lands_only_where_ec2_accepts_it(template, source):
    # EbsBlockDevice.KmsKeyId (EC2 API reference): "only supported on BlockDeviceMapping
    # objects called by CreateFleet, RequestSpotInstances, and RunInstances": the build
    # instance's launch mapping (RunInstances) takes it, CreateImage's mapping does not (and
    # cannot change a snapshot's encryption or size: the AMI inherits the launch volume's).
    assert "ami_block_device_mappings" not in source
    assert not any("kms" in key for key in source if key != "launch_block_device_mappings")
    assert _paths_to(template["source"], "scratch_kms_key_id") == [
        ("amazon-ebs", "c4", "launch_block_device_mappings", "kms_key_id")]
    assert _paths_to(template["source"], "var.kms_key_id") == []
    assert _paths_to(template["locals"], "var.kms_key_id") == [("scratch_kms_key_id",)]
    assert _paths_to(template["build"], "kms") == []


def test_provisioners_format_scratch_first_and_clear_ecs_state_last(build, source):
    scripts = [Path(p["shell"]["script"]).name for p in build["provisioner"]]
    assert scripts == ["setup-scratch-volume.sh", "block-container-imds.sh",
                       "prepare-ecs-image.sh"]
    env = dict(item.split("=", 1) for item in build["provisioner"][0]["shell"]["environment_vars"])
    assert env["C4_SCRATCH_DEVICE_NAME"] == source["launch_block_device_mappings"][0]["device_name"]
    assert env["C4_SCRATCH_MOUNTPOINT"] == "${local.scratch_mountpoint}"
    for p in build["provisioner"]:
        assert p["shell"]["script"].startswith("${path.root}/scripts/")
        assert "sudo" in p["shell"]["execute_command"]


def test_every_script_is_provisioned_and_executable(build):
    referenced = {Path(p["shell"]["script"]).name for p in build["provisioner"]}
    on_disk = {p.name for p in SCRIPTS.glob("*.sh")}
    assert referenced == on_disk
    for script in SCRIPTS.glob("*.sh"):
        assert os.access(script, os.X_OK), script
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), script
        assert "\nset -euo pipefail\n" in text, script


def test_containers_are_kept_from_the_instance_metadata_service():
    text = (SCRIPTS / "block-container-imds.sh").read_text()
    # AWS's rule for ECS container instances: drop docker+ -> 169.254.169.254 in DOCKER-USER,
    # restored at boot by the iptables service; and checked after saving.
    assert "--in-interface 'docker+' --destination \"$imds/32\" --jump DROP" in text
    assert "iptables -I DOCKER-USER 1" in text and "systemctl enable iptables" in text
    assert "${C4_IMDS_ADDRESS:-169.254.169.254}" in text
    assert "-A DOCKER-USER -d $imds/32 -i docker+ -j DROP" in text  # iptables-save's order


def test_mount_point_and_label(locals_):
    assert locals_["scratch_mountpoint"] == "/docker_scratch"
    assert 1 <= len(locals_["scratch_label"]) <= 16  # ext4 label limit


def test_manifest_post_processor_writes_packer_manifest_json(build):
    (post,) = build["post-processor"]
    manifest = post["manifest"]
    assert manifest["output"] == "${path.root}/manifest.json"
    assert manifest["strip_path"] is True
    assert set(manifest["custom_data"]) >= {"ami_family", "architecture", "region"}
    gitignore = (PACKER_DIR / ".gitignore").read_text().split()
    assert "manifest.json" in gitignore


def test_template_avoids_settings_packer_1_6_6_rejects():
    text = TEMPLATE.read_text()
    for rejected in ("required_plugins", "required_version", "metadata_options"):
        code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        assert not any(rejected in line for line in code), rejected


def test_plugins_file_pins_the_amazon_plugin():
    (block,) = _load(PLUGINS)["packer"]
    (plugins,) = block["required_plugins"]
    assert plugins["amazon"]["source"] == "github.com/hashicorp/amazon"
    assert plugins["amazon"]["version"].startswith(">=")


# --- Packer itself -----------------------------------------------------------------------


def test_packer_fmt_check():
    result = _packer("fmt", "-check", "packer/")
    assert result.returncode == 0, f"not formatted: {result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    "var_args",
    [
        (),
        ("-var", "ami_family=al2"),
        ("-var", "architecture=arm64", "-var", "ami_family=al2"),
        ("-var", "scratch_volume_type=gp2", "-var", "encrypted=false"),
        ("-var", "scratch_volume_type=io2", "-var", "scratch_iops=20000",
         "-var", "kms_key_id=alias/c4-scratch"),
        ("-var", "kms_key_id=arn:aws:kms:us-west-2:123456789012:key/"
                 "1234abcd-12ab-34cd-56ef-1234567890ab"),
    ],
    ids=["default", "al2", "al2-arm64", "gp2-unencrypted", "io2-kms", "kms-arn"],
)
def test_packer_validate(var_args):
    result = _packer("validate", *var_args, str(TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("ami_family=al1", "must be al2023 or al2"),
        ("architecture=i386", "must be x86_64 or arm64"),
        ("region=Oregon", "must look like us-west-2"),
        ("instance_type=large", "must be empty or an EC2 instance type"),
        ("scratch_size_gb=0", "whole number from 1 to 16384"),
        ("scratch_size_gb=2.5", "whole number from 1 to 16384"),
        ("scratch_volume_type=sc9", "must be one of gp3"),
        ("scratch_throughput=50", "from 125 to 1000"),
        ("scratch_iops=10", "from 100 to 256000"),
        ("kms_key_id=my-key", "must be empty, a key ARN"),
        ("ami_name_prefix=c4 ami", "3 to 90 characters"),
    ],
)
def test_packer_validate_rejects_bad_values(assignment, message):
    result = _packer("validate", "-var", assignment, str(TEMPLATE))
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("family", "arch", "expected"),
    [
        ("al2023", "x86_64", "al2023-ami-ecs-hvm-*-kernel-6.*-x86_64"),
        ("al2023", "arm64", "al2023-ami-ecs-hvm-*-kernel-6.*-arm64"),
        ("al2", "x86_64", "amzn2-ami-ecs-hvm-*-x86_64-ebs"),
        ("al2", "arm64", "amzn2-ami-ecs-hvm-*-arm64-ebs"),
    ],
)
def test_source_ami_name_per_family_and_architecture(family, arch, expected):
    got = _console(
        "local.source_ami_name[var.ami_family]",
        "-var", f"ami_family={family}", "-var", f"architecture={arch}",
    )
    assert got == expected


@pytest.mark.parametrize(
    ("arch", "instance_type"), [("x86_64", "m6i.large"), ("arm64", "m7g.large")]
)
def test_default_build_instance_matches_architecture(arch, instance_type):
    assert _console("local.instance_type", "-var", f"architecture={arch}") == instance_type
    assert _console(
        "local.instance_type", "-var", f"architecture={arch}", "-var", "instance_type=c7i.xlarge"
    ) == "c7i.xlarge"


@pytest.mark.parametrize(
    ("volume_type", "throughput", "iops"),
    [
        ("gp3", "250", "3000"),
        ("io2", "null", "3000"),
        ("gp2", "null", "null"),
        ("st1", "null", "null"),
    ],
)
def test_throughput_and_iops_only_for_volume_types_that_take_them(volume_type, throughput, iops):
    var = ("-var", f"scratch_volume_type={volume_type}")
    assert _console("local.scratch_throughput", *var) == throughput
    assert _console("local.scratch_iops", *var) == iops


@pytest.mark.parametrize(("value", "expected"), [("alias/c4-scratch", "alias/c4-scratch"),
                                                  ("", "null")])
def test_kms_key_reaches_the_launch_mapping_or_nothing(value, expected):
    assert _console("local.scratch_kms_key_id", "-var", f"kms_key_id={value}") == expected
