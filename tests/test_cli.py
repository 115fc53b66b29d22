"""The c4 command line: entry point, version, help."""

import subprocess
import sys

import c4


def run_c4(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from c4.cli import main; main()", *args],
        capture_output=True, text=True, check=False,
    )


def test_version_command_prints_package_version() -> None:
    out = run_c4("version")
    assert out.returncode == 0, out.stderr
    assert f"c4 {c4.__version__}" in out.stdout


def test_help_lists_commands() -> None:
    out = run_c4("--help")
    assert out.returncode == 0
    assert "version" in out.stdout
