"""SIGINT and SIGTERM as one exception, :class:`Interrupted`, raised in the main thread.

AWS Batch stops a job with SIGTERM (and SIGKILL 30 s later by default); a person stops a run
with Ctrl-C (SIGINT). :func:`install` (called by the ``c4`` entry point) makes both raise
:class:`Interrupted` in the main thread, where the pipeline is between or inside a unit of work.
Nothing partial is ever marked complete: a day's manifest entry is written after all its files,
a shard's after its stack, each in one atomic step, so the unit in progress is simply redone by
the next run. Threads doing I/O call :func:`check` before each transfer, so queued downloads
and uploads stop at once instead of running to the end of their pool.

The ``c4`` entry point turns :class:`Interrupted` into the line ``interrupted; run the same
command again to resume`` and the exit status ``128 + signal`` (130 for SIGINT, 143 for
SIGTERM; the Batch retry strategy retries 143).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "check", "deferred", "ignore", "install", "stopping"]

_requested: list[int] = []
_deferring = [0]
"""Depth of :func:`deferred` blocks open in the main thread."""


class Interrupted(BaseException):
    """The run was told to stop (a BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way swallows it)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """``128 + signal number``: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


def stopping() -> bool:
    """Whether a stop was requested."""
    return bool(_requested)


def check() -> None:
    """Raise :class:`Interrupted` if a stop was requested (for worker threads, before each
    unit of work)."""
    if _requested:
        raise Interrupted(_requested[0])


def _handler(signum: int, frame: FrameType | None) -> None:
    if not _requested:
        _requested.append(signum)
    if _deferring[0]:
        return  # raised when the deferred block ends
    raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a stop request's :class:`Interrupted` until the block ends. For calls into C that
    call back into Python (libmseed's sample allocator): an exception raised inside a ctypes
    callback is dropped and the C code carries on with a bad pointer, corrupting the heap."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring[0] += 1
    try:
        yield
    finally:
        _deferring[0] -= 1
    if not _deferring[0]:
        check()


def install() -> None:
    """Make SIGINT and SIGTERM raise :class:`Interrupted` (main thread only; a no-op
    elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _requested.clear()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on (the run is already stopping)."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
