"""Progress a person can follow at a terminal, and structured JSON lines everywhere else.

One :class:`Reporter` serves both audiences:

* **At a terminal** (the stream is a TTY): rich progress bars with counts, elapsed time and an ETA,
  and events as short coloured console lines printed above the bars.
* **Anywhere else** (AWS Batch, CloudWatch, a pipe, a file): one JSON object per line with the keys
  ``time`` (ISO 8601, UTC, millisecond precision), ``level``, ``event`` and the caller's fields.
  Tasks emit a throttled ``progress`` line (at most one per ``interval_s`` seconds) and a
  ``task_done`` line with the count and duration when they close, so a log stays short and every
  line parses with :func:`json.loads`.

Verbosity follows the top-level ``--quiet`` / ``--verbose`` flags of the ``c4`` command: quiet hides
progress bars and ``info`` events (warnings and errors are always shown), verbose adds ``debug``
events. CLI commands get a reporter configured that way from :func:`reporter_from_context`.

Example (non-TTY stream, so JSON lines)::

    >>> import io, json
    >>> out = io.StringIO()
    >>> with Reporter(stream=out) as rep:
    ...     with rep.task("days", total=2) as days:
    ...         days.advance()
    ...         days.advance()
    ...     rep.event("shard_done", shard="2024-01", days=2, skipped_files=[])
    >>> [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    ['task_done', 'shard_done']
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO, Any, Literal

__all__ = [
    "LEVELS",
    "JsonLogFormatter",
    "Reporter",
    "Task",
    "configure_logging",
    "get_verbosity",
    "reporter_from_context",
    "set_verbosity",
]

Level = Literal["debug", "info", "warning", "error"]
#: Event levels, least to most severe.
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")
_STYLE = {"debug": "dim", "info": "cyan", "warning": "bold yellow", "error": "bold red"}
_META_KEY = "c4.verbosity"
# Fallback used when no click context is active (library use, or a plain ``python -c``).
_default_verbosity: dict[str, bool] = {"quiet": False, "verbose": False}


def set_verbosity(*, quiet: bool = False, verbose: bool = False) -> None:
    """Record the ``--quiet`` / ``--verbose`` choice for reporters made later.

    Called once by the ``c4`` CLI callback. Inside a command-line invocation the choice is stored in
    the context's ``meta`` (so separate invocations in one process do not leak into each other);
    outside one it becomes the process default.
    """
    choice = {"quiet": bool(quiet), "verbose": bool(verbose)}
    ctx = _click_context()
    if ctx is not None:
        ctx.meta[_META_KEY] = choice
    else:
        _default_verbosity.update(choice)


def get_verbosity() -> dict[str, bool]:
    """The active ``{"quiet": bool, "verbose": bool}`` (click context first, then the default)."""
    ctx = _click_context()
    if ctx is not None and _META_KEY in ctx.meta:
        return dict(ctx.meta[_META_KEY])
    return dict(_default_verbosity)


def reporter_from_context(
    *, json_lines: bool | None = None, stream: IO[str] | None = None
) -> Reporter:
    """A :class:`Reporter` with the verbosity chosen by the ``c4`` top-level flags."""
    v = get_verbosity()
    return Reporter(json_lines=json_lines, quiet=v["quiet"], verbose=v["verbose"], stream=stream)


def _click_context() -> Any:
    """The active command-line context, or ``None`` outside a ``c4`` invocation.

    Typer >= 0.29 runs on its own vendored copy of click, older releases on click itself; look in
    both (the vendored module is private, hence the guarded import).
    """
    getters: list[Any] = []
    try:
        from typer._click.globals import get_current_context as typer_ctx

        getters.append(typer_ctx)
    except ImportError:  # pragma: no cover - typer < 0.29
        pass
    try:
        from click import get_current_context as click_ctx

        getters.append(click_ctx)
    except ImportError:  # pragma: no cover
        pass
    for get in getters:
        ctx = get(silent=True)
        if ctx is not None:
            return ctx
    return None


class JsonLogFormatter(logging.Formatter):
    """Formats a ``logging`` record as one JSON line like :meth:`Reporter.event` writes.

    Keys: ``time`` (ISO UTC), ``level`` (debug/info/warning/error), ``event`` (``"log"``),
    ``logger`` and ``message`` (plus ``exception`` with the traceback text when there is one).
    """

    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        level = {"critical": "error", "warn": "warning"}.get(level, level)
        stamp = _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc)
        out: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level, "event": "log", "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (survives test runners swapping it)."""

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure_logging(
    *, quiet: bool = False, verbose: bool = False, stream: IO[str] | None = None,
    json_lines: bool | None = None,
) -> None:
    """Route ``logging`` to ``stream`` (default stderr) in the same style as :class:`Reporter`.

    At a terminal: ``time LEVEL logger: message``; otherwise (``json_lines`` None = auto) one JSON
    object per record (:class:`JsonLogFormatter`), so a Batch log holds nothing but JSON lines.
    Level: DEBUG with ``verbose``, WARNING with ``quiet``, else INFO. Replaces the root handlers
    this function installed before (safe to call once per CLI invocation).
    """
    if json_lines is None:
        isatty = getattr(stream if stream is not None else sys.stderr, "isatty", None)
        json_lines = not (callable(isatty) and isatty())
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    handler.set_name("c4.progress")
    if json_lines:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "c4.progress":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def _jsonable(value: Any) -> Any:
    """Numbers, strings, booleans, None, lists and dicts as JSON; anything else as ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (Sequence, set, frozenset)) and not isinstance(value, (bytes, bytearray)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays
        return _jsonable(value.tolist())
    return str(value)


class Task:
    """One counted piece of work (files downloaded, days, pair blocks) inside a :class:`Reporter`.

    Use as a context manager (or call :meth:`close`). ``total`` may be ``None`` when unknown;
    the bar then shows a pulse and no ETA. :meth:`advance` is thread-safe.
    """

    def __init__(self, reporter: Reporter, description: str, total: int | None) -> None:
        if total is not None and total < 0:
            raise ValueError(f"total must be >= 0 or None, got {total}")
        self.reporter = reporter
        self.description = description
        self.total = total
        self.completed = 0
        self.started = time.monotonic()
        self.closed = False
        self._last_emit = self.started
        self._rich_id: Any = None

    @property
    def elapsed_s(self) -> float:
        """Seconds since the task started."""
        return time.monotonic() - self.started

    def eta_s(self) -> float | None:
        """Estimated seconds left (linear extrapolation), or ``None`` without a total or rate."""
        if self.total is None or self.completed <= 0:
            return None
        rate = self.completed / max(self.elapsed_s, 1e-9)
        return max(self.total - self.completed, 0) / rate

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units as done."""
        self.reporter._advance(self, n)

    def set_total(self, total: int | None) -> None:
        """Change the expected total (for example once a listing has finished)."""
        self.total = total
        self.reporter._retotal(self)

    def close(self) -> None:
        """Finish the task (idempotent): removes its bar or writes its ``task_done`` line."""
        if not self.closed:
            self.closed = True
            self.reporter._close(self)

    def __enter__(self) -> Task:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Reporter:
    """Progress bars and events for a person at a terminal, JSON lines for log collectors.

    Parameters
    ----------
    json_lines:
        ``True`` for JSON lines, ``False`` for rich output, ``None`` (default) to choose JSON lines
        exactly when ``stream`` is not a TTY.
    quiet:
        Hide progress bars, progress lines and ``info``/``debug`` events; warnings and errors show.
    verbose:
        Also show ``debug`` events (ignored when ``quiet``).
    stream:
        Text stream written to; defaults to ``sys.stderr`` so stdout stays free for data.
    interval_s:
        In JSON mode, the least number of seconds between two ``progress`` lines of one task.
    """

    def __init__(
        self,
        *,
        json_lines: bool | None = None,
        quiet: bool = False,
        verbose: bool = False,
        stream: IO[str] | None = None,
        interval_s: float = 60.0,
    ) -> None:
        self.stream: IO[str] = stream if stream is not None else sys.stderr
        if json_lines is None:
            isatty = getattr(self.stream, "isatty", None)
            json_lines = not (callable(isatty) and isatty())
        self.json_lines = json_lines
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.interval_s = interval_s
        self._lock = threading.RLock()
        self._console: Any = None
        self._progress: Any = None
        self._open_tasks: list[Task] = []
        if not json_lines:
            from rich.console import Console

            self._console = Console(file=self.stream, force_terminal=True, highlight=False)

    # ----------------------------------------------------------------- public API
    def enabled(self, level: str) -> bool:
        """Whether events of ``level`` are shown with this verbosity."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
        if level in ("warning", "error"):
            return True
        if self.quiet:
            return False
        return level == "info" or self.verbose

    def event(self, event: str, /, *, level: Level = "info", **fields: Any) -> None:
        """Report one event (``day_done``, ``shard_done``, ``file_skipped``, ...).

        ``fields`` should be numbers, strings, booleans, lists or dicts of those (numpy scalars and
        arrays are converted). Keys ``time``, ``level`` and ``event`` are reserved.
        """
        if not self.enabled(level):
            return
        clash = {"time", "level", "event"} & fields.keys()
        if clash:
            raise ValueError(f"field names {sorted(clash)} are reserved")
        if self.json_lines:
            record = {"time": _utc_now(), "level": level, "event": event}
            record.update({k: _jsonable(v) for k, v in fields.items()})
            self._write_line(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
        else:
            from rich.markup import escape

            parts = " ".join(f"{k}={escape(_short(v))}" for k, v in fields.items())
            stamp = time.strftime("%H:%M:%S")
            style = _STYLE[level]
            head = f"[dim]{stamp}[/] [{style}]{escape(event)}[/]"
            if level in ("warning", "error"):
                head += f" [{style}]{level}[/]"
            self._print(f"{head} {parts}".rstrip())

    def debug(self, event: str, /, **fields: Any) -> None:
        """:meth:`event` at level ``debug``."""
        self.event(event, level="debug", **fields)

    def warning(self, event: str, /, **fields: Any) -> None:
        """:meth:`event` at level ``warning``."""
        self.event(event, level="warning", **fields)

    def error(self, event: str, /, **fields: Any) -> None:
        """:meth:`event` at level ``error``."""
        self.event(event, level="error", **fields)

    def task(self, description: str, total: int | None = None) -> Task:
        """Start a counted task; close it (or use it as a context manager) when done."""
        t = Task(self, description, total)
        with self._lock:
            self._open_tasks.append(t)
            if self._bars_on():
                progress = self._ensure_progress()
                t._rich_id = progress.add_task(description, total=total)
            else:
                self.debug("task_start", task=description, total=total)
        return t

    def close(self) -> None:
        """Close every open task and stop the live display."""
        for t in list(self._open_tasks):
            t.close()
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- internals
    def _bars_on(self) -> bool:
        return not self.json_lines and not self.quiet

    def _ensure_progress(self) -> Any:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self._console,
                transient=False,
                refresh_per_second=8,
            )
            self._progress.start()
        return self._progress

    def _advance(self, task: Task, n: int) -> None:
        with self._lock:
            task.completed += n
            if task._rich_id is not None and self._progress is not None:
                self._progress.advance(task._rich_id, n)
            elif self.json_lines and self.enabled("info"):
                now = time.monotonic()
                if now - task._last_emit >= self.interval_s:
                    task._last_emit = now
                    eta = task.eta_s()
                    self.event(
                        "progress",
                        task=task.description,
                        completed=task.completed,
                        total=task.total,
                        elapsed_s=round(task.elapsed_s, 3),
                        eta_s=None if eta is None else round(eta, 1),
                    )

    def _retotal(self, task: Task) -> None:
        with self._lock:
            if task._rich_id is not None and self._progress is not None:
                self._progress.update(task._rich_id, total=task.total)

    def _close(self, task: Task) -> None:
        with self._lock:
            if task in self._open_tasks:
                self._open_tasks.remove(task)
            if task._rich_id is not None and self._progress is not None:
                self._progress.refresh()
                self._progress.stop_task(task._rich_id)
                if not self._open_tasks:
                    self._progress.stop()
                    self._progress = None
            elif self.json_lines:
                self.event(
                    "task_done",
                    task=task.description,
                    completed=task.completed,
                    total=task.total,
                    elapsed_s=round(task.elapsed_s, 3),
                )

    def _print(self, text: str) -> None:
        with self._lock:
            console = self._progress.console if self._progress is not None else self._console
            console.print(text, soft_wrap=True)

    def _write_line(self, line: str) -> None:
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _short(value: Any, limit: int = 80) -> str:
    """Compact rendering of a field value for a console line."""
    text = json.dumps(_jsonable(value), separators=(",", ":"))
    if isinstance(value, str):
        text = value
    return text if len(text) <= limit else text[: limit - 1] + "…"
