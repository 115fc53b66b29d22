"""Run the c4 CLI and SIGKILL it just before its N-th storage operation.

``python tests/kill_at.py N c4-args...``: the operations counted are the writes and deletes
of :class:`c4.objstore.Location` (``put``, ``write_bytes``, ``delete``, ``delete_tree``) and
local file copies (``shutil.copyfile``, what ``put_tree`` copies a local store with), from any
thread. :func:`record` counts the same operations in this process, to choose N."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from c4 import objstore

HOOKS = [(objstore.Location, "put"), (objstore.Location, "write_bytes"),
         (objstore.Location, "delete"), (objstore.Location, "delete_tree"),
         (shutil, "copyfile")]


def _install(on_op: Callable[[str], None]) -> list[tuple[object, str, object]]:
    saved = []
    for owner, name in HOOKS:
        original = getattr(owner, name)

        def hooked(*args: object, _original: object = original, _name: str = name,
                   **kwargs: object) -> object:
            on_op(_name)
            return _original(*args, **kwargs)  # type: ignore[operator]

        saved.append((owner, name, original))
        setattr(owner, name, hooked)
    return saved


@contextmanager
def record() -> Iterator[list[str]]:
    """The names of the operations done inside the block, in order."""
    ops: list[str] = []
    lock = threading.Lock()

    def on_op(name: str) -> None:
        with lock:
            ops.append(name)

    saved = _install(on_op)
    try:
        yield ops
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def main() -> None:
    kill_at = int(sys.argv[1])
    count = [0]
    lock = threading.Lock()

    def on_op(name: str) -> None:
        with lock:
            count[0] += 1
            if count[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    _install(on_op)
    from c4.cli import main as c4_main

    sys.argv = ["c4", *sys.argv[2:]]
    c4_main()


if __name__ == "__main__":
    main()
