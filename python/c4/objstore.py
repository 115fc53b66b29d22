"""Local directories and S3 prefixes behind one small interface (list, get, put, exists).

A location is either a local path or ``s3://bucket/prefix``. S3 goes through boto3: public
buckets are read unsigned (``anonymous=True``); ``endpoint_url`` or the ``AWS_ENDPOINT_URL``
environment variable points boto3 at another server (e.g. a local moto server). Requests use
botocore's adaptive retry mode, and :func:`with_retries` adds back-off around whole transfers
so that throttling (``SlowDown``, 503) or a dropped connection is retried, never fatal.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRYABLE_CODES = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
    "InternalError", "ServiceUnavailable", "503", "500", "RequestLimitExceeded",
}


def is_s3(url: str) -> bool:
    """True for ``s3://`` URLs."""
    return str(url).startswith("s3://")


def split_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")`` (no leading or trailing slash on the key)."""
    rest = url[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"{url!r}: no bucket name in S3 URL")
    return bucket, key.strip("/")


def join(base: str, *parts: str) -> str:
    """Join a location and relative parts with ``/`` (works for paths and S3 URLs)."""
    out = str(base).rstrip("/")
    for p in parts:
        p = str(p).strip("/")
        if p:
            out = f"{out}/{p}" if out else p
    return out


def _is_retryable(exc: BaseException) -> bool:
    """Throttling, a server error or a network failure, also when boto3 wraps it (its
    transfer manager raises ``S3UploadFailedError`` / ``S3TransferFailedError`` from the
    ``ClientError`` or connection error of the failed part; a download's
    ``RetriesExceededError`` holds it as ``last_exception``)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, ClientError):
            err = node.response.get("Error", {})
            status = str(node.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            return str(err.get("Code")) in _RETRYABLE_CODES or status in {"500", "503"}
        if isinstance(node, (ConnectionError, HTTPClientError, TimeoutError)):
            return True
        node = (node.__cause__ or node.__context__
                or getattr(node, "last_exception", None))  # boto3's RetriesExceededError
    return False


def with_retries(fn: Callable[[], T], *, what: str, attempts: int = 5, base_s: float = 0.5) -> T:
    """Call ``fn`` and retry throttling / transient network errors with jittered exponential
    back-off (``base_s · 2^k`` seconds, k = 0, 1, ...); other errors propagate at once.
    Downloads and uploads share this policy. A stop request (:mod:`c4.interrupts`) ends it
    before the next attempt."""
    from c4.interrupts import check

    for k in range(attempts):
        check()
        try:
            return fn()
        except Exception as exc:
            if not _is_retryable(exc) or k == attempts - 1:
                raise
            delay = base_s * 2**k * (0.5 + random.random())
            log.warning("retrying %s in %.1f s after %s", what, delay, exc)
            time.sleep(delay)
    raise AssertionError("unreachable")


_clients: dict[tuple[bool, str], object] = {}
_clients_lock = threading.Lock()


def s3_client(anonymous: bool = False, endpoint_url: str = "") -> object:
    """A (cached, thread-safe) boto3 S3 client; unsigned when ``anonymous``."""
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL", "")
    key = (anonymous, endpoint)
    with _clients_lock:
        if key not in _clients:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config

            cfg = Config(
                retries={"max_attempts": 10, "mode": "adaptive"},
                max_pool_connections=64,
                signature_version=UNSIGNED if anonymous else None,
            )
            session = boto3.session.Session()
            _clients[key] = session.client("s3", endpoint_url=endpoint or None, config=cfg)
        return _clients[key]


def probe_client(anonymous: bool = False, endpoint_url: str = "") -> Any:
    """A boto3 S3 client that fails fast (2 attempts, 5 s to connect): for checks made before
    a run, where a missing network should be one line within seconds, not minutes of
    retries."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    cfg = Config(retries={"total_max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                 read_timeout=15, signature_version=UNSIGNED if anonymous else None)
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL", "")
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=cfg)


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: its key (relative to the listed location), size in bytes and a
    version tag: the S3 ETag, or the modification time in ns for a local file (a web-service
    "file" has neither before it is downloaded: None and "")."""

    key: str
    size: int | None
    etag: str


@dataclass(frozen=True)
class Location:
    """A local directory or S3 prefix; all keys below are relative ``/``-separated paths."""

    url: str
    anonymous: bool = False
    endpoint_url: str = ""

    @property
    def client(self):
        return s3_client(self.anonymous, self.endpoint_url)

    def child(self, *parts: str) -> Location:
        return Location(join(self.url, *parts), self.anonymous, self.endpoint_url)

    def _s3(self, rel: str) -> tuple[str, str]:
        bucket, prefix = split_s3(self.url)
        return bucket, join(prefix, rel)

    def list_keys(self, rel: str = "") -> list[str]:
        """Relative keys of all files below ``rel`` (recursive), sorted."""
        if is_s3(self.url):
            bucket, prefix = self._s3(rel)
            root = split_s3(self.url)[1]
            pfx = prefix + "/" if prefix else ""
            keys: list[str] = []

            def page_all() -> list[str]:
                out = []
                paginator = self.client.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=bucket, Prefix=pfx):
                    out += [o["Key"] for o in page.get("Contents", [])]
                return out

            for k in with_retries(page_all, what=f"listing s3://{bucket}/{pfx}"):
                keys.append(k[len(root) + 1:] if root else k)
            return sorted(keys)
        base = Path(self.url) / rel
        if not base.is_dir():
            return []
        top = Path(self.url)
        return sorted(p.relative_to(top).as_posix() for p in base.rglob("*") if p.is_file())

    def _s3_folder(self, rel: str) -> tuple[list[str], list[str]]:
        """(file names, folder names) directly in ``rel`` of an S3 location, one delimited
        listing (paginated, retried)."""
        bucket, prefix = self._s3(rel)
        pfx = prefix + "/" if prefix else ""

        def page_all() -> tuple[list[str], list[str]]:
            files, dirs = [], []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=pfx, Delimiter="/"):
                files += [o["Key"][len(pfx):] for o in page.get("Contents", [])]
                dirs += [c["Prefix"][len(pfx):].rstrip("/")
                         for c in page.get("CommonPrefixes", [])]
            return files, dirs

        files, dirs = with_retries(page_all, what=f"listing s3://{bucket}/{pfx}")
        return sorted(files), sorted(dirs)

    def list_names(self, rel: str = "") -> list[str]:
        """Names of the files directly in ``rel`` (not recursive), sorted."""
        if is_s3(self.url):
            return self._s3_folder(rel)[0]
        base = Path(self.url) / rel
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_file())

    def list_objects(self, rel: str = "", *, recursive: bool = False) -> list[ObjectInfo]:
        """Files in ``rel`` (below it with ``recursive``) with sizes and version tags, sorted
        by key; keys are relative to this location. A missing folder lists as empty."""
        if is_s3(self.url):
            bucket, prefix = self._s3(rel)
            root = split_s3(self.url)[1]
            pfx = prefix + "/" if prefix else ""
            cut = len(root) + 1 if root else 0

            def page_all() -> list[ObjectInfo]:
                out = []
                paginator = self.client.get_paginator("list_objects_v2")
                kw = {} if recursive else {"Delimiter": "/"}
                for page in paginator.paginate(Bucket=bucket, Prefix=pfx, **kw):
                    out += [ObjectInfo(o["Key"][cut:], int(o["Size"]),
                                       str(o.get("ETag", "")).strip('"'))
                            for o in page.get("Contents", [])]
                return out

            return sorted(with_retries(page_all, what=f"listing s3://{bucket}/{pfx}"),
                          key=lambda o: o.key)
        top = Path(self.url)
        base = top / rel
        if not base.is_dir():
            return []
        paths = base.rglob("*") if recursive else base.iterdir()
        out = []
        for p in paths:
            try:
                st = p.stat()
            except FileNotFoundError:  # removed while listing
                continue
            if p.is_file():
                out.append(ObjectInfo(p.relative_to(top).as_posix(), st.st_size,
                                      str(st.st_mtime_ns)))
        return sorted(out, key=lambda o: o.key)

    def list_dirs(self, rel: str = "") -> list[str]:
        """Names of the folders directly in ``rel`` (S3: common prefixes), sorted."""
        if is_s3(self.url):
            return self._s3_folder(rel)[1]
        base = Path(self.url) / rel
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def exists(self, rel: str) -> bool:
        if is_s3(self.url):
            from botocore.exceptions import ClientError

            bucket, key = self._s3(rel)
            try:
                with_retries(lambda: self.client.head_object(Bucket=bucket, Key=key),
                             what=f"head s3://{bucket}/{key}")
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                    return False
                raise
        return (Path(self.url) / rel).is_file()

    def local_path(self, rel: str) -> Path:
        """Path of ``rel`` for a local location (error for S3)."""
        if is_s3(self.url):
            raise ValueError(f"{self.url} is not a local path")
        return Path(self.url) / rel

    def get(self, rel: str, dest: Path) -> Path:
        """Copy ``rel`` to the local file ``dest`` (written atomically) and return ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        if is_s3(self.url):
            bucket, key = self._s3(rel)
            with_retries(lambda: self.client.download_file(bucket, key, str(tmp)),
                         what=f"download s3://{bucket}/{key}")
        else:
            shutil.copyfile(Path(self.url) / rel, tmp)
        os.replace(tmp, dest)
        return dest

    def read_bytes(self, rel: str) -> bytes:
        if is_s3(self.url):
            bucket, key = self._s3(rel)
            return with_retries(
                lambda: self.client.get_object(Bucket=bucket, Key=key)["Body"].read(),
                what=f"get s3://{bucket}/{key}",
            )
        return (Path(self.url) / rel).read_bytes()

    def put(self, src: Path, rel: str) -> None:
        """Upload/copy the local file ``src`` to ``rel``; a local copy is renamed into place so
        readers never see a half-written file."""
        if is_s3(self.url):
            bucket, key = self._s3(rel)
            with_retries(lambda: self.client.upload_file(str(src), bucket, key),
                         what=f"upload s3://{bucket}/{key}")
            return
        dest = Path(self.url) / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write ``data`` to ``rel`` atomically (single PUT on S3, rename locally)."""
        if is_s3(self.url):
            bucket, key = self._s3(rel)
            with_retries(lambda: self.client.put_object(Bucket=bucket, Key=key, Body=data),
                         what=f"put s3://{bucket}/{key}")
            return
        dest = Path(self.url) / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)

    def delete(self, rel: str) -> None:
        """Remove the file ``rel`` (no error when it does not exist)."""
        if is_s3(self.url):
            bucket, key = self._s3(rel)
            with_retries(lambda: self.client.delete_object(Bucket=bucket, Key=key),
                         what=f"delete s3://{bucket}/{key}")
            return
        (Path(self.url) / rel).unlink(missing_ok=True)

    def delete_keys(self, keys: list[str]) -> None:
        """Remove the files ``keys`` (relative; S3: batches of 1000 per request)."""
        if not is_s3(self.url):
            for k in keys:
                self.delete(k)
            return
        bucket, _ = self._s3("")
        for chunk in iter_chunks(sorted(keys), 1000):
            objects = [{"Key": self._s3(k)[1]} for k in chunk]

            def one(objects: list[dict[str, str]] = objects) -> object:
                return self.client.delete_objects(Bucket=bucket,
                                                  Delete={"Objects": objects, "Quiet": True})

            with_retries(one, what=f"delete {len(chunk)} keys in s3://{bucket}")

    def put_tree(self, src: Path, rel: str, workers: int = 16) -> None:
        """Make ``rel/`` hold exactly the files below the local directory ``src`` (uploaded in
        parallel; on S3, keys below ``rel/`` that ``src`` does not have are removed after the
        upload, so a store written over an older one keeps none of its stale arrays)."""
        files = sorted(p for p in src.rglob("*") if p.is_file())
        if not is_s3(self.url):
            dest = Path(self.url) / rel
            tmp = dest.with_name(dest.name + ".part")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp)
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
            return
        from concurrent.futures import ThreadPoolExecutor

        wanted = {join(rel, p.relative_to(src).as_posix()) for p in files}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda p: self.put(p, join(rel, p.relative_to(src).as_posix())),
                          files))
        stale = [k for k in self.list_keys(rel) if k not in wanted]
        if stale:
            self.delete_keys(stale)

    def get_tree(self, rel: str, dest: Path, workers: int = 16) -> Path:
        """Download every file below ``rel/`` into the local directory ``dest``."""
        from concurrent.futures import ThreadPoolExecutor

        keys = self.list_keys(rel)
        prefix = rel.strip("/") + "/"
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda k: self.get(k, dest / k[len(prefix):]), keys))
        return dest

    def delete_tree(self, rel: str) -> None:
        """Remove everything below ``rel/`` (nothing if it does not exist)."""
        if not is_s3(self.url):
            shutil.rmtree(Path(self.url) / rel, ignore_errors=True)
            return
        self.delete_keys(self.list_keys(rel))


def iter_chunks(items: list[T], size: int) -> Iterator[list[T]]:
    """Consecutive chunks of at most ``size`` items."""
    for i in range(0, len(items), max(1, size)):
        yield items[i:i + size]
