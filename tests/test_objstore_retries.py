"""Uploads and downloads share one retry policy: boto3's transfer manager wraps the error of a
failed upload (S3UploadFailedError around the ClientError), and c4 still sees the throttling
underneath and retries. A fault-injecting HTTP proxy in front of the moto server answers the
first PUTs with 503 SlowDown."""

from __future__ import annotations

import http.server
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from boto3.exceptions import S3UploadFailedError
from c4 import objstore
from c4.failures import explain
from c4.objstore import Location, _is_retryable

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>")


class _Proxy(http.server.BaseHTTPRequestHandler):
    upstream = ""
    failures_left = 0
    lock = threading.Lock()

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "PUT":
            with self.lock:
                fail = type(self).failures_left > 0
                type(self).failures_left -= fail
            if fail:
                self.send_response(503)
                self.send_header("Content-Length", str(len(SLOWDOWN)))
                self.end_headers()
                self.wfile.write(SLOWDOWN)
                return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "expect")}
        # else urllib sends a form content type, and the server parses the body as a form
        headers.setdefault("Content-Type", "application/octet-stream")
        req = urllib.request.Request(self.upstream + self.path, data=body or None,
                                     method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(req) as resp:
                status, headers, data = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, headers, data = err.code, err.headers, err.read()
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server",
                                 "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward


@pytest.fixture
def proxy(aws_env: str) -> Iterator[type[_Proxy]]:
    handler = type("Proxy", (_Proxy,), {"upstream": aws_env, "failures_left": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    # a client without botocore's own retries, so that c4's layer is the one that retries
    objstore._clients[(False, url)] = boto3.client(
        "s3", endpoint_url=url,
        config=boto3.session.Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    handler.url = url  # type: ignore[attr-defined]
    yield handler
    objstore._clients.pop((False, url), None)
    server.shutdown()


def test_upload_wrapped_by_boto3_is_retried(proxy: type[_Proxy], tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    bucket = f"retry-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    src = tmp_path / "part.bin"
    src.write_bytes(b"x" * 1000)
    loc = Location(f"s3://{bucket}/run", endpoint_url=proxy.url)  # type: ignore[attr-defined]
    client = objstore._clients[(False, proxy.url)]  # type: ignore[attr-defined]

    proxy.failures_left = 1  # what boto3 raises, and how c4 reads it
    with pytest.raises(S3UploadFailedError) as raised:
        client.upload_file(str(src), bucket, "direct.bin")
    assert _is_retryable(raised.value)

    proxy.failures_left = 2
    with caplog.at_level(logging.WARNING, logger="c4.objstore"):
        loc.put(src, "daily/part.bin")
    assert boto3.client("s3").get_object(Bucket=bucket, Key="run/daily/part.bin")[
        "Body"].read() == src.read_bytes()
    assert sum("retrying upload" in r.getMessage() for r in caplog.records) == 2


def test_upload_to_a_missing_bucket_is_not_retried_and_explained(aws_env: str,
                                                                  tmp_path: Path) -> None:
    src = tmp_path / "part.bin"
    src.write_bytes(b"x")
    with pytest.raises(S3UploadFailedError) as raised:
        Location("s3://no-such-bucket-retry/run").put(src, "part.bin")
    assert not _is_retryable(raised.value)
    failure = explain(raised.value)
    assert failure is not None and failure.exit_code == 2
    assert failure.message == "bucket no-such-bucket-retry does not exist (PutObject)"
