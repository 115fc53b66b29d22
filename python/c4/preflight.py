"""Checks ``c4 correlate`` makes before its first download: everything a run needs from its
surroundings, each problem one line naming the key or path and the fix.

- ``output.output`` can be written: a probe object is written and removed (local folder or S3
  prefix), so a read-only file system, a file where the folder should be, a missing bucket or
  credentials without ``s3:PutObject`` stop the run before a day's work, not after it;
- ``data.source`` can be listed and is not empty (the bucket exists, the credentials work for a
  signed source, the prefix is not mistyped; a web-service source is not probed), and
  ``data.stations``, when set, exists;
- ``output.scratch`` exists (the default folder of a local run is created), is writable and has
  ``output.min_free_gb`` free.

:func:`check_run` raises :class:`PreflightError` (exit code 2) with one line per problem.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from pathlib import Path

from c4.config import Config, auto_scratch
from c4.failures import UserError
from c4.objstore import is_s3, join, probe_client, split_s3

log = logging.getLogger(__name__)

__all__ = ["PreflightError", "check_output", "check_run", "check_scratch_dir", "check_source"]

_PROBE = ".c4-probe-"


class PreflightError(UserError):
    """Problems found before any work; one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _s3_problem(key: str, url: str, exc: Exception, *, anonymous: bool = False,
                writing: bool = False) -> str:
    """One line for an S3 failure on ``url`` (the value of config key ``key``).

    S3 error codes relied on (Amazon S3 API Reference, "Error responses", ErrorResponses.html):
    ``NoSuchBucket`` (404) for a bucket that does not exist (HEAD requests carry no body, so
    only ``404``); ``AccessDenied`` (403) when the credentials, or an anonymous request, lack
    permission; ``InvalidAccessKeyId``, ``SignatureDoesNotMatch``, ``ExpiredToken`` and
    ``InvalidToken`` for credentials S3 refuses."""
    from botocore import exceptions as bx

    bucket = split_s3(url)[0]
    if isinstance(exc, bx.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "404"):
            return (f"{key}: bucket {bucket} does not exist; fix the name in {key}"
                    + (f" or create it (aws s3 mb s3://{bucket})" if writing else ""))
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            if anonymous:
                return (f"{key}: {url} cannot be read anonymously (AccessDenied); set "
                        "data.anonymous = false and provide credentials")
            need = "s3:PutObject and s3:DeleteObject" if writing else "s3:ListBucket"
            return (f"{key}: access to {url} denied; the credentials need {need} there "
                    "(c4 iam-policy prints a policy)")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                    "InvalidToken"):
            return (f"{key}: the AWS credentials were refused for {url} ({code}); refresh "
                    "them (AWS_PROFILE, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
                    "AWS_SESSION_TOKEN)")
        return f"{key}: {url}: {code or type(exc).__name__}: {exc}"
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        fix = ("set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
               + ("" if writing else ", or data.anonymous = true for a public bucket"))
        return f"{key}: no AWS credentials to access {url}; {fix}"
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError,
                        bx.ConnectionClosedError, bx.ReadTimeoutError)):
        return (f"{key}: cannot reach the S3 endpoint for {url} ({exc}); check the network "
                "and data.endpoint_url / AWS_ENDPOINT_URL")
    return f"{key}: {url}: {type(exc).__name__}: {exc}"


def _os_problem(key: str, path: Path, exc: OSError, what: str) -> str:
    where = exc.filename or path
    if exc.errno in (errno.EROFS,):
        return f"{key}: {where} is on a read-only file system; choose a writable {what}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{key}: no permission to write {where}; choose a {what} you can write"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return (f"{key}: {where} is a file, not a folder; move it away or choose another "
                f"{what}")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{key}: no space left in {where}; free space or choose another {what}"
    return f"{key}: cannot write {where}: {exc.strerror or exc}"


def _probe_local(key: str, path: Path, what: str, *, create: bool) -> str | None:
    if path.exists() and not path.is_dir():
        return f"{key}: {path} is a file, not a folder; move it away or choose another {what}"
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.is_dir():
            return None  # said by the caller
        probe = path / f"{_PROBE}{uuid.uuid4().hex}"
        probe.write_bytes(b"c4")
        probe.unlink()
    except OSError as exc:
        return _os_problem(key, path, exc, what)
    return None


def check_output(config: Config) -> list[str]:
    """Problems writing ``output.output`` (a probe object written and removed)."""
    url = config.output.output
    if not is_s3(url):
        problem = _probe_local("output.output", Path(url), "output.output", create=True)
        return [problem] if problem else []
    bucket, prefix = split_s3(url)
    key = join(prefix, f"{_PROBE}{uuid.uuid4().hex}")
    client = probe_client(False, config.data.endpoint_url)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"c4")
    except Exception as exc:
        return [_s3_problem("output.output", url, exc, writing=True)]
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except Exception as exc:  # a probe left behind is harmless; say so, do not stop
        log.warning("output.output: could not remove the probe object s3://%s/%s (%s)",
                    bucket, key, exc)
    return []


def _listable(key: str, url: str, config: Config, *, anonymous: bool) -> str | None:
    """Whether ``url`` (a folder/prefix or a file) exists and holds something."""
    if not is_s3(url):
        path = Path(url)
        if not path.exists():
            return (f"{key}: {path} does not exist (mistyped, or a volume not mounted?); set "
                    f"{key} to the archive's folder")
        if path.is_dir() and not any(path.iterdir()):
            return f"{key}: {path} is an empty folder; set {key} to the archive's folder"
        return None
    bucket, prefix = split_s3(url)
    client = probe_client(anonymous, config.data.endpoint_url)
    try:
        got = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "",
                                     MaxKeys=1)
        if not got.get("Contents") and prefix:  # a file (a stations CSV)?
            got = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
            got["Contents"] = [o for o in got.get("Contents", []) if o["Key"] == prefix]
    except Exception as exc:
        return _s3_problem(key, url, exc, anonymous=anonymous)
    if not got.get("Contents"):
        return (f"{key}: nothing below {url} (a mistyped prefix?); set {key} to the "
                "archive's root")
    return None


def check_source(config: Config) -> list[str]:
    """Problems listing ``data.source`` (and ``data.stations`` when set)."""
    data = config.data
    if data.layout == "fdsn":
        return []
    problems = []
    found = _listable("data.source", data.source, config, anonymous=data.anonymous)
    if found:
        problems.append(found)
    if data.stations and not data.stations.startswith(("http://", "https://")):
        found = _listable("data.stations", data.stations, config, anonymous=data.anonymous)
        if found:
            problems.append(found)
    return problems


def check_scratch_dir(config: Config) -> list[str]:
    """Problems with ``output.scratch``: missing, not writable, or below ``min_free_gb``."""
    out = config.output
    path = Path(config.scratch_dir())
    auto = path == auto_scratch()
    if auto:
        path.mkdir(parents=True, exist_ok=True)
        log.info("output.scratch: using %s (no /scratch here; set output.scratch to choose)",
                 path)
    if not path.is_dir():
        if path.exists():
            return [f"output.scratch: {path} is a file, not a folder; choose another "
                    "output.scratch"]
        return [f"output.scratch: {path} does not exist (is the scratch volume mounted?); "
                "create it or set output.scratch to an existing folder"]
    problem = _probe_local("output.scratch", path, "output.scratch", create=False)
    if problem:
        return [problem]
    free_gb = shutil.disk_usage(path).free / 1e9
    if free_gb < out.min_free_gb:
        return [f"output.scratch: {path} has {free_gb:.2f} GB free, less than "
                f"output.min_free_gb = {out.min_free_gb} GB; free space or choose a bigger "
                "volume"]
    if not os.access(path, os.W_OK | os.X_OK):
        return [f"output.scratch: no permission to write {path}"]
    return []


def check_run(config: Config) -> None:
    """Every check above; :class:`PreflightError` listing all problems found."""
    problems = check_scratch_dir(config) + check_output(config) + check_source(config)
    if problems:
        raise PreflightError(problems)
