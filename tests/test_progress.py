"""Progress reporting: rich bars under a pseudo-terminal, JSON lines everywhere else."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from c4 import cli
from c4.progress import Reporter, get_verbosity, reporter_from_context, set_verbosity
from typer.testing import CliRunner

# A small job: one counted task with a known total and two events. Run as a separate process
# so that its stderr can be a real pseudo-terminal or a plain pipe.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from c4.progress import Reporter
    quiet = "--quiet" in sys.argv
    with Reporter(quiet=quiet, interval_s=0.0) as rep:
        rep.event("shard_start", shard="2024-01", days=3)
        with rep.task("days of 2024-01", total=3) as days:
            for _ in range(3):
                time.sleep(0.15)
                days.advance()
        rep.event("shard_done", shard="2024-01", pairs=6, skipped_files=["a.ms"], seconds=0.45)
        rep.warning("file_skipped", path="bad.ms", reason="corrupt")
    """
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_under_pty(*args: str, argv: list[str] | None = None) -> str:
    """Run SCRIPT (or ``argv``) with stdio on a pseudo-terminal; return everything it printed."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        argv or [sys.executable, "-c", SCRIPT, *args], stdin=slave, stdout=slave, stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 30.0)
        if not ready:
            proc.kill()
            raise AssertionError("no output from the pseudo-terminal for 30 s")
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def test_terminal_shows_progress_bar_with_eta_and_console_events() -> None:
    out = ANSI.sub("", run_under_pty())
    assert "days of 2024-01" in out
    assert "3/3" in out  # the M/N column reached the total
    assert "ETA" in out
    assert "shard_done" in out and "pairs=6" in out
    assert "file_skipped" in out and "warning" in out
    # No JSON at a terminal.
    assert not any(line.lstrip().startswith("{") for line in out.splitlines())


def test_terminal_quiet_hides_bars_and_info_but_keeps_warnings() -> None:
    out = ANSI.sub("", run_under_pty("--quiet"))
    assert "days of 2024-01" not in out
    assert "shard_done" not in out
    assert "file_skipped" in out


def test_without_terminal_every_line_is_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    lines = proc.stderr.splitlines()
    assert lines, "expected JSON lines on stderr"
    records = [json.loads(line) for line in lines]  # every line parses
    for rec in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["time"])
        assert rec["level"] in ("info", "warning")
    events = [rec["event"] for rec in records]
    assert events[0] == "shard_start" and "shard_done" in events and "task_done" in events
    assert "progress" in events  # interval_s=0: a progress line per advance
    done = next(r for r in records if r["event"] == "task_done")
    assert done["task"] == "days of 2024-01" and done["completed"] == 3 and done["total"] == 3
    assert done["elapsed_s"] >= 0.3
    shard = next(r for r in records if r["event"] == "shard_done")
    assert shard["pairs"] == 6 and shard["skipped_files"] == ["a.ms"]
    progress = [r for r in records if r["event"] == "progress"]
    assert progress[-1]["eta_s"] is not None
    assert proc.stdout == ""  # stdout stays free for data


def test_json_mode_quiet_and_verbose_levels() -> None:
    for quiet, verbose, expected in [
        (False, False, ["task_done", "info_event", "warn_event"]),
        (True, False, ["warn_event"]),
        (False, True, ["task_start", "task_done", "debug_event", "info_event", "warn_event"]),
    ]:
        out = io.StringIO()
        with Reporter(stream=out, quiet=quiet, verbose=verbose) as rep:
            with rep.task("blocks", total=None) as t:
                t.advance(5)
            rep.debug("debug_event", n=1)
            rep.event("info_event", n=2)
            rep.warning("warn_event", n=3)
        got = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
        assert got == expected, (quiet, verbose)


def test_json_fields_convert_numpy_and_reject_reserved_names() -> None:
    np = pytest.importorskip("numpy")
    out = io.StringIO()
    rep = Reporter(stream=out, json_lines=True)
    rep.event("day_done", pairs=np.int64(4), seconds=np.float32(1.5), lags=np.arange(3),
              bad=float("nan"))
    rec = json.loads(out.getvalue())
    assert rec["pairs"] == 4 and rec["seconds"] == 1.5 and rec["lags"] == [0, 1, 2]
    assert rec["bad"] is None
    with pytest.raises(ValueError, match="reserved"):
        rep.event("x", time=1)
    with pytest.raises(ValueError, match="level must be one of"):
        rep.event("x", level="loud")  # type: ignore[arg-type]


def test_auto_mode_follows_isatty() -> None:
    class FakeTTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Reporter(stream=io.StringIO()).json_lines is True
    assert Reporter(stream=FakeTTY()).json_lines is False


def test_cli_flags_reach_reporter_from_context() -> None:
    """The real ``c4`` callback stores --quiet/--verbose where reporter_from_context finds it."""
    app = typer.Typer()
    app.callback()(cli._main)
    seen: list[tuple[bool, bool]] = []

    @app.command()
    def probe() -> None:
        rep = reporter_from_context(stream=io.StringIO())
        seen.append((rep.quiet, rep.verbose))

    runner = CliRunner()
    for flags, expected in [([], (False, False)), (["-q"], (True, False)),
                            (["-v"], (False, True))]:
        result = runner.invoke(app, [*flags, "probe"])
        assert result.exit_code == 0, result.output
        assert seen[-1] == expected, flags
    # Outside a click invocation the process default applies.
    assert get_verbosity() == {"quiet": False, "verbose": False}
    set_verbosity(quiet=True)
    try:
        assert reporter_from_context(stream=io.StringIO()).quiet
    finally:
        set_verbosity()


C4 = [sys.executable, "-c", "from c4.cli import main; main()"]


@pytest.fixture
def demo_available() -> None:
    pytest.importorskip("c4.demo", reason="c4 demo not available yet")


@pytest.mark.usefixtures("demo_available")
def test_c4_demo_under_terminal_shows_progress_bars(tmp_path: Path) -> None:
    out = ANSI.sub("", run_under_pty(argv=[*C4, "demo", "--dir", str(tmp_path), "--days", "2",
                                           "--stations", "3"]))
    assert "ETA" in out and "elapsed" in out  # rich progress columns
    assert "2/2" in out  # the days task reached its total
    assert "PASS" in out
    assert not any(line.lstrip().startswith('{"time"') for line in out.splitlines())


@pytest.mark.usefixtures("demo_available")
def test_c4_demo_without_terminal_logs_only_json_lines(tmp_path: Path) -> None:
    proc = subprocess.run([*C4, "demo", "--dir", str(tmp_path), "--days", "2", "--stations", "3"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    events = [r["event"] for r in records]
    assert events.count("day_done") == 2 and "shard_done" in events
    assert all({"time", "level", "event"} <= r.keys() for r in records)
    assert "PASS" in proc.stdout  # the result table stays on stdout
    quiet = subprocess.run([*C4, "--quiet", "demo", "--dir", str(tmp_path / "q"), "--days", "1",
                            "--stations", "3"], capture_output=True, text=True, timeout=300,
                           check=False)
    assert quiet.returncode == 0, quiet.stderr
    assert all(json.loads(line)["level"] in ("warning", "error")
               for line in quiet.stderr.splitlines() if line.strip())


def test_logging_records_become_json_lines_off_terminal() -> None:
    import logging

    from c4.progress import configure_logging

    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging(stream=out, verbose=True)
        logging.getLogger("c4.test").debug("wrote %d pairs", 15)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("c4.test").exception("failed")
    finally:
        for h in list(root.handlers):
            if h.get_name() == "c4.progress":
                root.removeHandler(h)
        root.setLevel(level)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "log" and first["level"] == "debug"
    assert first["logger"] == "c4.test" and first["message"] == "wrote 15 pairs"
    assert second["level"] == "error" and "RuntimeError: boom" in second["exception"]
