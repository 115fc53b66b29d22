"""The AMI's provisioning scripts (packer/scripts/*.sh), run for real.

setup-scratch-volume.sh is run as root against a file-backed loop device: C4_DEV_DIR points at a
temporary directory whose `xvdb`, `sdb` or `nvme1n1` entry is a symlink to the loop device, and
the fstab and mount point are temporary paths (the real /etc/fstab is never touched). The NVMe
case adds one test double: a fake `ebsnvme-id` on PATH stands in for the EBS NVMe controller
that reports the block-device-mapping name; everything else (blkid, mkfs.ext4, mount) is real.
These tests need root and loop devices: they skip where either is missing, except in CI (CI
set), where that is a failure. The missing-device and ECS tests need neither.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "packer" / "scripts" / "setup-scratch-volume.sh"
PREPARE = ROOT / "packer" / "scripts" / "prepare-ecs-image.sh"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run this test")
    pytest.skip(reason)


def _run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script)], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=120,
    )


def _blkid(device: str, tag: str) -> str:
    result = subprocess.run(
        ["blkid", "-p", "-s", tag, "-o", "value", device], capture_output=True, text=True
    )
    return result.stdout.strip()


def _is_mounted(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)]).returncode == 0


def _mount_source(path: Path) -> str:
    out = subprocess.run(
        ["findmnt", "-n", "-o", "SOURCE", "--mountpoint", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    return os.path.realpath(out)


def _lines_for(fstab: Path, mountpoint: Path) -> list[list[str]]:
    rows = [line.split() for line in fstab.read_text().splitlines()]
    return [row for row in rows if len(row) >= 2 and not row[0].startswith("#")
            and row[1] == str(mountpoint)]


@dataclass
class Scratch:
    """A temporary device directory, fstab and mount point, and the loop devices behind them."""

    tmp: Path
    devices: list[str] = field(default_factory=list)
    label: str = field(default_factory=lambda: f"c4t-{uuid.uuid4().hex[:8]}")

    def __post_init__(self) -> None:
        self.dev_dir = self.tmp / "dev"
        self.bin_dir = self.tmp / "bin"
        self.fstab = self.tmp / "fstab"
        self.mountpoint = self.tmp / "docker_scratch"
        self.dev_dir.mkdir()
        self.bin_dir.mkdir()

    def loop_device(self, name: str, size_mib: int = 64) -> str:
        """Attach a new loop device and expose it as C4_DEV_DIR/<name>."""
        backing = self.tmp / f"{name}.img"
        with backing.open("wb") as f:
            f.truncate(size_mib * 2**20)
        try:
            result = subprocess.run(
                ["losetup", "--find", "--show", str(backing)],
                capture_output=True, text=True, check=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            _unavailable(f"cannot attach a loop device here: {exc}")
        device = result.stdout.strip()
        self.devices.append(device)
        (self.dev_dir / name).symlink_to(device)
        return device

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "C4_DEV_DIR": str(self.dev_dir),
            "C4_SCRATCH_FSTAB": str(self.fstab),
            "C4_SCRATCH_MOUNTPOINT": str(self.mountpoint),
            "C4_SCRATCH_LABEL": self.label,
            "C4_SCRATCH_WAIT_SECONDS": "0",
            "PATH": f"{self.bin_dir}:{os.environ['PATH']}",
            **extra,
        }

    def setup(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return _run(SETUP, self.env(**extra))

    def cleanup(self) -> None:
        if self.mountpoint.exists() and _is_mounted(self.mountpoint):
            subprocess.run(["umount", str(self.mountpoint)], check=False)
        for device in self.devices:
            subprocess.run(["losetup", "-d", device], check=False)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    s = Scratch(tmp_path)
    yield s
    s.cleanup()


@pytest.fixture
def loop_scratch(scratch: Scratch) -> Scratch:
    """A Scratch whose tests attach loop devices: needs root and the tools below."""
    if os.geteuid() != 0:
        _unavailable("loop devices and mount need root")
    for tool in ("losetup", "mkfs.ext4", "blkid", "mount", "findmnt", "mountpoint"):
        if shutil.which(tool) is None:
            _unavailable(f"`{tool}` is not installed")
    return scratch


# --- setup-scratch-volume.sh -------------------------------------------------------------


def test_run_twice_formats_once_writes_one_fstab_line_and_mounts(loop_scratch: Scratch):
    s = loop_scratch
    device = s.loop_device("xvdb")
    root_line = "UUID=1234-abcd / xfs defaults,noatime 1 1"
    s.fstab.write_text(f"# static file system information\n{root_line}\n")

    first = s.setup()
    assert first.returncode == 0, first.stderr
    assert f"formatting {device}" in first.stdout
    assert _blkid(device, "LABEL") == s.label
    assert _blkid(device, "TYPE") == "ext4"
    fs_uuid = _blkid(device, "UUID")
    assert _is_mounted(s.mountpoint)
    assert _mount_source(s.mountpoint) == device
    (s.mountpoint / "kept.txt").write_text("written after the first run")

    second = s.setup()
    assert second.returncode == 0, second.stderr
    assert "not formatting" in second.stdout
    assert "formatting " + device not in second.stdout
    assert _blkid(device, "UUID") == fs_uuid  # the same filesystem: formatted once
    assert (s.mountpoint / "kept.txt").read_text() == "written after the first run"

    (line,) = _lines_for(s.fstab, s.mountpoint)
    assert line[0] == f"LABEL={s.label}"
    assert line[2] == "ext4"
    options = line[3].split(",")
    assert "nofail" in options
    assert any(o.startswith("x-systemd.device-timeout=") for o in options)
    assert "x-systemd.before=docker.service" in options  # mounted before any container starts
    assert "x-systemd.growfs" in options  # a larger volume from the launch template is used
    assert s.fstab.read_text().splitlines()[:2] == ["# static file system information", root_line]

    # The non-root container user must be able to write to the volume's root.
    assert stat.S_IMODE(s.mountpoint.stat().st_mode) == 0o1777


def test_fstab_line_mounts_the_volume_by_label_as_at_boot(loop_scratch: Scratch):
    s = loop_scratch
    device = s.loop_device("xvdb")
    assert s.setup().returncode == 0
    subprocess.run(["umount", str(s.mountpoint)], check=True)
    assert not _is_mounted(s.mountpoint)

    # What systemd does at boot: mount the mount point from the fstab line alone.
    subprocess.run(["mount", "--fstab", str(s.fstab), str(s.mountpoint)], check=True)
    assert _mount_source(s.mountpoint) == device

    # And a third run on the already formatted, already listed volume changes nothing.
    subprocess.run(["umount", str(s.mountpoint)], check=True)
    fs_uuid = _blkid(device, "UUID")
    third = s.setup()
    assert third.returncode == 0, third.stderr
    assert _is_mounted(s.mountpoint)
    assert _blkid(device, "UUID") == fs_uuid
    assert len(_lines_for(s.fstab, s.mountpoint)) == 1


def test_finds_the_volume_named_sdb(loop_scratch: Scratch):
    s = loop_scratch
    device = s.loop_device("sdb")
    result = s.setup()
    assert result.returncode == 0, result.stderr
    assert f"scratch volume /dev/xvdb is {device}" in result.stdout
    assert _mount_source(s.mountpoint) == device


def test_finds_the_nvme_namespace_attached_as_xvdb(loop_scratch: Scratch):
    s = loop_scratch
    root = s.loop_device("nvme0n1", size_mib=8)
    device = s.loop_device("nvme1n1")
    # Test double for the EBS NVMe controller: report each namespace's mapping name the way
    # `ebsnvme-id -u` does (the root volume is xvda, the scratch volume xvdb).
    fake = s.bin_dir / "ebsnvme-id"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        'case "$2" in */nvme0n1) echo xvda ;; */nvme1n1) echo xvdb ;; *) exit 1 ;; esac\n'
    )
    fake.chmod(0o755)

    result = s.setup()
    assert result.returncode == 0, result.stderr
    assert f"scratch volume /dev/xvdb is {device}" in result.stdout
    assert _mount_source(s.mountpoint) == device
    assert _blkid(root, "TYPE") == ""  # the other disk is left alone


def test_replaces_an_old_fstab_line_for_the_mount_point(loop_scratch: Scratch):
    s = loop_scratch
    s.loop_device("xvdb")
    # The hand-made AMI's line: by device name, no nofail (an instance without the volume hangs).
    s.fstab.write_text(f"/dev/xvdb\t{s.mountpoint}\text4\tdefaults\t0\t0\n")
    result = s.setup()
    assert result.returncode == 0, result.stderr
    (line,) = _lines_for(s.fstab, s.mountpoint)
    assert line[0] == f"LABEL={s.label}"
    assert "nofail" in line[3].split(",")


def test_refuses_to_format_a_volume_with_another_filesystem(loop_scratch: Scratch):
    s = loop_scratch
    device = s.loop_device("xvdb")
    subprocess.run(["mkfs.ext4", "-q", "-L", "precious", device], check=True)
    fs_uuid = _blkid(device, "UUID")

    result = s.setup()
    assert result.returncode != 0
    assert "refusing to overwrite" in result.stderr
    assert _blkid(device, "UUID") == fs_uuid
    assert _blkid(device, "LABEL") == "precious"
    assert not s.fstab.exists()


def test_missing_device_fails_with_a_clear_message(scratch: Scratch):
    # Needs no loop device: the device directory is simply empty.
    scratch.fstab.write_text("# untouched\n")
    result = scratch.setup()
    assert result.returncode != 0
    assert "ERROR: no scratch volume found" in result.stderr
    assert "xvdb sdb" in result.stderr
    assert str(scratch.dev_dir) in result.stderr
    assert scratch.fstab.read_text() == "# untouched\n"
    assert not scratch.mountpoint.exists()


def test_explicit_device_that_is_not_a_block_device_fails(scratch: Scratch):
    not_a_device = scratch.tmp / "nothing-here"
    result = scratch.setup(C4_SCRATCH_DEVICE=str(not_a_device))
    assert result.returncode != 0
    assert f"C4_SCRATCH_DEVICE '{not_a_device}' is not a block device" in result.stderr


def test_rejects_a_label_longer_than_ext4_allows(scratch: Scratch):
    result = scratch.setup(C4_SCRATCH_LABEL="a-label-that-is-too-long")
    assert result.returncode != 0
    assert "must be 1 to 16 characters" in result.stderr


# --- prepare-ecs-image.sh ----------------------------------------------------------------


def _fake_systemctl(bin_dir: Path, calls: Path, exit_code: int = 0) -> None:
    """Test double for systemctl: records its arguments, exits with exit_code."""
    fake = bin_dir / "systemctl"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> "{calls}"\nexit {exit_code}\n')
    fake.chmod(0o755)


def _ecs_state(tmp: Path) -> Path:
    data = tmp / "ecs" / "data"
    (data / "sub").mkdir(parents=True)
    (data / "agent.db").write_text("container instance arn of the build instance")
    (data / ".hidden").write_text("x")
    (data / "sub" / "state.json").write_text("{}")
    return data


def test_prepare_stops_ecs_and_clears_its_state(tmp_path: Path):
    data, calls = _ecs_state(tmp_path), tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_systemctl(bin_dir, calls)
    result = _run(PREPARE, {"C4_ECS_DATA_DIR": str(data),
                            "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == ["stop ecs"]
    assert data.is_dir()
    assert list(data.iterdir()) == []


def test_prepare_keeps_state_when_ecs_does_not_stop(tmp_path: Path):
    data, calls = _ecs_state(tmp_path), tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_systemctl(bin_dir, calls, exit_code=5)
    result = _run(PREPARE, {"C4_ECS_DATA_DIR": str(data),
                            "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode != 0
    assert (data / "agent.db").exists()


@pytest.mark.parametrize("bad", ["", "relative/data"])
def test_prepare_refuses_a_data_dir_that_is_not_absolute(tmp_path: Path, bad: str):
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_systemctl(bin_dir, calls)
    (tmp_path / "relative" / "data").mkdir(parents=True)
    (tmp_path / "relative" / "data" / "keep").write_text("x")
    result = subprocess.run(
        ["bash", str(PREPARE)], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "C4_ECS_DATA_DIR": bad, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )
    assert result.returncode != 0
    assert "must be an absolute path" in result.stderr
    assert not calls.exists()
    assert (tmp_path / "relative" / "data" / "keep").exists()


# --- static checks -----------------------------------------------------------------------


def test_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        _unavailable("`shellcheck` is not installed (CI installs it)")
    scripts = sorted((ROOT / "packer" / "scripts").glob("*.sh"))
    assert {p.name for p in scripts} >= {SETUP.name, PREPARE.name}
    result = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
