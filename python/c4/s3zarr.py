"""A read-only Zarr v3 store over an S3 prefix, through c4's own boto3 client.

:func:`c4.open_results` opens S3 results with it, so xarray reads only the objects and byte
ranges a selection touches: metadata documents whole, shard indexes and inner chunks of sharded
arrays as ranged GETs (``Range: bytes=a-b`` / ``bytes=-n``). It needs no s3fs or aiobotocore:
requests go through :meth:`c4.objstore.Location.client` (signed, ``endpoint_url`` honoured)
with :func:`c4.objstore.with_retries`, each in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype

from c4.objstore import Location, is_s3, join, with_retries

__all__ = ["S3ReadStore"]


def _range_header(byte_range: ByteRequest | None) -> str | None:
    if byte_range is None:
        return None
    if isinstance(byte_range, RangeByteRequest):
        if byte_range.end <= byte_range.start:
            return None
        return f"bytes={byte_range.start}-{byte_range.end - 1}"
    if isinstance(byte_range, OffsetByteRequest):
        return f"bytes={byte_range.offset}-"
    if isinstance(byte_range, SuffixByteRequest):
        return f"bytes=-{byte_range.suffix}"
    raise TypeError(f"unexpected byte range {byte_range!r}")


class S3ReadStore(Store):
    """Zarr store of the objects below ``loc`` (an ``s3://`` location), read-only."""

    supports_writes = False
    supports_deletes = False
    supports_partial_writes = False
    supports_listing = True

    def __init__(self, loc: Location) -> None:
        if not is_s3(loc.url):
            raise ValueError(f"{loc.url}: not an s3:// location")
        super().__init__(read_only=True)
        self.loc = loc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3ReadStore) and other.loc == self.loc

    def __hash__(self) -> int:
        return hash(self.loc)

    def __str__(self) -> str:
        return self.loc.url

    def _get_sync(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        from botocore.exceptions import ClientError

        bucket, obj = self.loc._s3(key)
        kw: dict[str, Any] = {"Bucket": bucket, "Key": obj}
        header = _range_header(byte_range)
        if header is not None:
            kw["Range"] = header
        elif byte_range is not None:  # an empty range
            return b""

        def fetch() -> bytes:
            body: bytes = self.loc.client.get_object(**kw)["Body"].read()
            return body

        try:
            return with_retries(fetch, what=f"get s3://{bucket}/{obj}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    async def get(self, key: str, prototype: BufferPrototype,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        raw = await asyncio.to_thread(self._get_sync, key, byte_range)
        return None if raw is None else prototype.buffer.from_bytes(raw)

    async def get_partial_values(
        self, prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.loc.exists, key)

    async def set(self, key: str, value: Buffer) -> None:
        raise PermissionError(f"{self.loc.url} is opened read-only")

    async def delete(self, key: str) -> None:
        raise PermissionError(f"{self.loc.url} is opened read-only")

    async def list(self) -> AsyncIterator[str]:
        for key in await asyncio.to_thread(self.loc.list_keys, ""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        keys = await asyncio.to_thread(self.loc.list_keys, "")
        for key in keys:
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        files, dirs = await asyncio.to_thread(self.loc._s3_folder, prefix.rstrip("/"))
        for name in sorted({*files, *dirs}):
            yield name

    def child(self, rel: str) -> S3ReadStore:
        """The store of the prefix ``rel`` below this one."""
        return S3ReadStore(Location(join(self.loc.url, rel), self.loc.anonymous,
                                    self.loc.endpoint_url))
