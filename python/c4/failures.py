"""Anticipated failures as one line and a hint, never a traceback; and the exit codes.

Exit codes of every ``c4`` command (docs/results.md, "Exit codes"):

- ``0``: done;
- ``1``: the run failed (a day could not be fetched, the network went away, a disk filled up,
  a service refused a request mid-run); what finished is kept and a re-run resumes;
- ``2``: configuration or usage: a bad key, a missing file or bucket, missing credentials, an
  output that cannot be written, a scratch folder that is missing or full, found before any
  work was done;
- ``130`` / ``143``: interrupted by SIGINT (Ctrl-C) / SIGTERM (what AWS Batch sends).

:func:`explain` maps an exception (or the first anticipated one on its ``__cause__`` /
``__context__`` chain) to a :class:`Failure`; :func:`emit` writes it to stderr as plain text at
a terminal, else as JSON lines like the rest of the log.
"""

from __future__ import annotations

import errno
import json
import sys
from dataclasses import dataclass
from typing import IO

__all__ = ["CONFIG", "FAILED", "Failure", "UserError", "emit", "explain",
           "log_unraisable"]

FAILED = 1
CONFIG = 2


class UserError(Exception):
    """A problem the user can fix, found before any work (one line per problem, exit 2)."""

    exit_code = CONFIG


@dataclass(frozen=True)
class Failure:
    message: str
    """What went wrong (one or more lines)."""
    hint: str
    """How to fix it ('' if nothing useful can be said)."""
    exit_code: int
    generic: bool = False
    """A catch-all description: a cause further down the chain may say more."""


_CREDENTIALS = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                "InvalidToken", "TokenRefreshRequired", "ExpiredTokenException",
                "UnrecognizedClientException", "InvalidClientTokenId")
_DENIED = ("AccessDenied", "403", "AllAccessDisabled", "AccountProblem")


def _client_error(exc: BaseException) -> Failure | None:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return None
    err = exc.response.get("Error", {})
    code = str(err.get("Code", ""))
    bucket = str(err.get("BucketName", ""))
    where = f"bucket {bucket}" if bucket else "S3"
    op = getattr(exc, "operation_name", "") or "request"
    if code in ("NoSuchBucket",) or (code == "404" and op in ("HeadBucket", "ListObjectsV2")):
        return Failure(f"{where} does not exist ({op})",
                       "check the bucket name in data.source / output.output (and "
                       "data.endpoint_url or AWS_ENDPOINT_URL for another S3 server)", CONFIG)
    if code in _CREDENTIALS:
        return Failure(f"{where}: the AWS credentials were refused ({code})",
                       "refresh or fix the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID / "
                       "AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, aws sso login)", CONFIG)
    if code in _DENIED:
        return Failure(f"{where}: access denied ({op})",
                       "the credentials lack permission (c4 iam-policy prints what a run "
                       "needs); a public bucket is read with data.anonymous = true", CONFIG)
    return Failure(f"{where}: {op} failed: {code} {err.get('Message', '')}".rstrip(), "",
                   FAILED, generic=True)


def _botocore(exc: BaseException) -> Failure | None:
    from botocore import exceptions as bx

    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError,
                        bx.CredentialRetrievalError)):
        return Failure(f"no usable AWS credentials: {exc}",
                       "set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; a public "
                       "bucket (such as scedc-pds) is read with data.anonymous = true", CONFIG)
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError,
                        bx.ReadTimeoutError, bx.ConnectionClosedError)):
        return Failure(f"network: {exc}",
                       "check the network connection and data.endpoint_url / "
                       "AWS_ENDPOINT_URL; a re-run resumes where this one stopped", FAILED)
    if isinstance(exc, bx.ProfileNotFound):
        return Failure(str(exc), "set AWS_PROFILE to a profile of ~/.aws/config", CONFIG)
    if isinstance(exc, bx.NoRegionError):
        return Failure(str(exc), "set AWS_DEFAULT_REGION or batch.region", CONFIG)
    if isinstance(exc, bx.BotoCoreError):
        return Failure(f"AWS: {exc}", "", FAILED, generic=True)
    return None


_OS = {
    errno.ENOSPC: ("no space left on the device writing {path}",
                   "free space there or point output.scratch / output.output elsewhere; a "
                   "re-run resumes"),
    errno.EDQUOT: ("disk quota exceeded writing {path}",
                   "free space or point output.scratch / output.output elsewhere"),
    errno.EROFS: ("read-only file system: {path}",
                  "choose a writable output.output / output.scratch"),
    errno.EACCES: ("permission denied: {path}",
                   "choose a folder you can write (output.output / output.scratch) or fix its "
                   "permissions"),
    errno.EPERM: ("operation not permitted: {path}",
                  "choose a folder you can write (output.output / output.scratch)"),
    errno.ENOTDIR: ("{path}: a file is where a folder should be",
                    "move the file away or choose another output.output / output.scratch"),
    errno.EEXIST: ("{path}: a file is where a folder should be",
                   "move the file away or choose another output.output / output.scratch"),
    errno.EISDIR: ("{path} is a folder, not a file", "give the path of a file"),
    errno.ENOENT: ("not found: {path}", "check the path"),
}


_PATH_NAMES = ("path", "filename", "tmp_path", "dest", "dst", "target", "file", "fname",
               "self")  # self: a pathlib.Path writing itself


def _path_from_traceback(exc: BaseException) -> str | None:
    """The file an OSError without ``filename`` was about (ENOSPC from a ``write``): the
    innermost frame's local variable named like a path and holding an absolute one."""
    import os

    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for name in _PATH_NAMES:
            value = frame.f_locals.get(name)
            if isinstance(value, os.PathLike) or (isinstance(value, str) and name != "self"):
                text = os.fspath(value)
                if isinstance(text, str) and os.path.isabs(text):
                    return text
    return None


def _os_error(exc: BaseException) -> Failure | None:
    if not isinstance(exc, OSError) or exc.errno not in _OS:
        return None
    text, hint = _OS[exc.errno]
    path = exc.filename if exc.filename is not None else (
        _path_from_traceback(exc) or "(unknown path)")
    if exc.filename2 is not None:  # a copy or rename: the destination, unless it is the
        path = exc.filename2 if exc.errno != errno.ENOENT else path  # source that is missing
    return Failure(text.format(path=path), hint, FAILED)


def _one(exc: BaseException) -> Failure | None:
    from c4.config import ConfigError
    from c4.interrupts import Interrupted

    if isinstance(exc, Interrupted):
        return Failure("interrupted; run the same command again to resume", "", exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted; run the same command again to resume", "", 130)
    if isinstance(exc, UserError):
        return Failure(str(exc), "", exc.exit_code)
    if isinstance(exc, ConfigError):
        return Failure(str(exc), "c4 config show --config FILE checks a config without "
                       "running it; docs/config.md lists every key", CONFIG)
    from boto3.exceptions import S3TransferFailedError, S3UploadFailedError

    for found in (_client_error(exc), _botocore(exc), _os_error(exc)):
        if found is not None:
            return found
    if isinstance(exc, (S3UploadFailedError, S3TransferFailedError)):
        return Failure(f"S3 transfer failed: {exc}", "a re-run resumes", FAILED, generic=True)
    from c4.pipeline import ScratchError, ShardIncomplete

    if isinstance(exc, (ScratchError, ShardIncomplete)):
        return Failure(str(exc), "", FAILED)
    return None


def explain(exc: BaseException) -> Failure | None:
    """The :class:`Failure` of an anticipated exception (looking through the chain of causes
    for wrapped ones, e.g. boto3's S3UploadFailedError around a ClientError), else None."""
    seen: set[int] = set()
    first: Failure | None = None
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        found = _one(node)
        if found is not None and not found.generic:
            return found
        first = first or found
        node = node.__cause__ or node.__context__
    return first


def emit(failure: Failure, stream: IO[str] | None = None) -> None:
    """Write ``failure`` to ``stream`` (stderr): ``error: ...`` and ``hint: ...`` lines at a
    terminal, else one JSON object per line (``level`` error, ``event`` ``error``)."""
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    lines = failure.message.splitlines() or [""]
    if callable(isatty) and isatty():
        text = "\n".join(f"error: {line}" for line in lines)
        if failure.hint:
            text += f"\nhint: {failure.hint}"
        out.write(text + "\n")
    else:
        from c4.progress import _utc_now

        for line in lines:
            record = {"time": _utc_now(), "level": "error", "event": "error", "message": line,
                      "exit_code": failure.exit_code}
            if failure.hint:
                record["hint"] = failure.hint
            out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
    out.flush()


def log_unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """``sys.unraisablehook`` that logs instead of printing a traceback to stderr (an exception
    in a ``__del__``, e.g. a half-written zip file collected after an interrupt), so the log
    stays JSON lines: a warning, or only a debug line once the run is stopping."""
    import logging

    from c4.interrupts import stopping

    exc = unraisable.exc_value
    where = getattr(unraisable.object, "__qualname__", None) or repr(unraisable.object)
    text = f"exception ignored in {where}: {type(exc).__name__}: {exc}"
    logging.getLogger("c4").log(logging.DEBUG if stopping() else logging.WARNING, "%s", text)
