"""Keep credentials out of every log line, at any verbosity.

``c4 -v`` turns on debug logging, and botocore's debug log holds what a request carries: the
``Authorization`` header (access key id and signature), ``X-Amz-Security-Token`` (the session
token of temporary credentials), the canonical request and signature of SigV4, presigned URLs'
``X-Amz-Signature`` / ``X-Amz-Credential``, and STS responses with secret keys.
:class:`RedactingFilter`, installed on the log handlers by :func:`install`, rewrites each
record's message before any handler formats it: those values become ``<redacted>``, and so does
any literal value of ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` and
``AWS_ACCESS_KEY_ID`` found in the environment.
"""

from __future__ import annotations

import logging
import os
import re

__all__ = ["MASK", "RedactingFilter", "install", "redact"]

MASK = "<redacted>"

_PATTERNS = [
    # header values in dict reprs (b'...' too), canonical requests, "Name: value" lines
    re.compile(r"""(?i)((?:authorization|x-amz-security-token|x-amz-credential|x-amz-signature)"""
               r"""['"]?\s*[:=]\s*b?['"]?)([^'"\n&]+)"""),
    # SigV4 parts of an Authorization value or a query string
    re.compile(r"(?i)((?:Credential|Signature|SignedHeaders)=)([^,&\s'\"]+)"),
    # botocore.auth: "Signature:\n<hex>"
    re.compile(r"(?i)(signature:\s*)([0-9a-f]{16,})"),
    # secret values in STS/IMDS responses (XML or JSON) and credential reprs
    re.compile(r"(?i)(<(?:SecretAccessKey|SessionToken|Token|AccessKeyId)>)([^<]+)"),
    re.compile(r"""(?i)(["'](?:SecretAccessKey|SessionToken|Token|AccessKeyId|secret_key
                   |token|aws_secret_access_key|aws_session_token)["']\s*:\s*["'])
                   ([^"']+)""", re.X),
]
_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID")


def redact(text: str) -> str:
    """``text`` with credential values replaced by ``<redacted>``."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    for name in _ENV:
        value = os.environ.get(name, "")
        if len(value) >= 8 and value in text:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the formatter
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install() -> None:
    """Add a :class:`RedactingFilter` to every handler of the root logger (once each)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
