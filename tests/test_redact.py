"""c4.redact on the shapes botocore logs at debug level (the end-to-end check, a `c4 -v` run on
moto with fake keys, is in test_logs.py)."""

from __future__ import annotations

import io
import logging

import pytest
from c4.redact import MASK, RedactingFilter, redact

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD"
SIG = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


@pytest.mark.parametrize("text", [
    # botocore.endpoint "Making request ... with params"
    f"{{'headers': {{'X-Amz-Security-Token': b'{TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 "
    f"Credential=AKIDEXAMPLE/20240101/us-west-2/s3/aws4_request, SignedHeaders=host, "
    f"Signature={SIG}'}}}}",
    # botocore.auth canonical request and signature
    f"CanonicalRequest:\nGET\n/\n\nhost:s3.amazonaws.com\nx-amz-security-token:{TOKEN}\n",
    f"Signature:\n{SIG}",
    # a presigned URL
    f"https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIDEXAMPLE%2F20240101&"
    f"X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SIG}",
    # an STS response body (XML) and a credentials mapping (JSON)
    f"Response body: b'<Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>"
    f"{SECRET}</SecretAccessKey><SessionToken>{TOKEN}</SessionToken></Credentials>'",
    f'{{"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "{SECRET}", "Token": "{TOKEN}"}}',
])
def test_secrets_in_botocore_debug_shapes_are_masked(text: str) -> None:
    clean = redact(text)
    assert MASK in clean
    for secret in (SECRET, TOKEN, SIG, "AKIDEXAMPLE", "ASIAEXAMPLE"):
        assert secret not in clean, clean


def test_environment_credentials_are_masked_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert redact(f"odd place {SECRET} here") == f"odd place {MASK} here"
    assert redact("nothing secret: s3://bucket/key 200 OK") == (
        "nothing secret: s3://bucket/key 200 OK")


def test_filter_rewrites_records_with_arguments() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("headers %s", {"Authorization": f"AWS4-HMAC-SHA256 Signature={SIG}"})
    finally:
        logger.removeHandler(handler)
    assert SIG not in out.getvalue() and MASK in out.getvalue()
