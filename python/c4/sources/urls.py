"""Checks of ``data.source`` against ``data.layout``, run by config validation (no I/O).

A source must be the root of its layout. The forms people copy from other tools point inside
it (``s3://scedc-pds/continuous_waveforms/``, NoisePy's form; a year folder of an SDS archive;
``https://host/fdsnws/dataselect/1/query``); listing below them finds nothing, so they are
refused with the root to use instead. The public buckets of the two Californian data centres
are checked against the layout they need.
"""

from __future__ import annotations

import re

__all__ = ["KNOWN_BUCKETS", "LAYOUTS", "source_problem"]

LAYOUTS = ("scedc", "ncedc", "sds", "fdsn")
"""Archive layouts, in the order the docs list them."""

KNOWN_BUCKETS = {"scedc-pds": "scedc", "ncedc-pds": "ncedc"}
"""Public buckets and their layouts."""

_INSIDE = ("continuous_waveforms", "FDSNstationXML")


def _parent(url: str, part: str) -> str:
    head = url.rstrip("/")
    cut = head.find(f"/{part}")
    root = head[:cut] if cut >= 0 else head
    return root or "/"


def source_problem(layout: str, source: str) -> str | None:
    """Why ``source`` cannot be the root of a ``layout`` archive (one line naming the root to
    use), or None when it can."""
    url = source.strip()
    if layout == "fdsn":
        if url.startswith(("s3://", "/", ".")):
            return (f"{source!r} is not a web service; layout fdsn needs an http(s):// service "
                    "root or a data centre name such as EARTHSCOPE")
        if "/fdsnws" in url:
            return (f"{source!r} points inside the FDSN web services; give the service root "
                    f"{_parent(url, 'fdsnws')!r} (c4 appends /fdsnws/<service>/1/query)")
        if not url.startswith(("http://", "https://")):
            from obspy.clients.fdsn.header import URL_MAPPINGS

            if url.upper() not in {name.upper() for name in URL_MAPPINGS}:
                return (f"{source!r} is neither an http(s):// service root nor a data centre "
                        f"name; known names: {', '.join(sorted(URL_MAPPINGS))}")
        return None
    if url.startswith(("http://", "https://")):
        return f"{source!r} is a web address; it needs data.layout = \"fdsn\""
    if url.startswith("s3://"):
        bucket = url[5:].split("/", 1)[0]
        wanted = KNOWN_BUCKETS.get(bucket)
        if wanted is not None and wanted != layout:
            return f"s3://{bucket} is the {wanted.upper()} archive; set data.layout = {wanted!r}"
    parts = [p for p in re.split(r"/+", url.rstrip("/")) if p]
    if layout in ("scedc", "ncedc"):
        for inner in _INSIDE:
            if inner in parts:
                return (f"{source!r} points inside the {layout} layout; give the archive root "
                        f"that holds {inner}/: {_parent(url, inner)!r}")
    if layout == "sds" and parts and re.fullmatch(r"(19|20)\d\d", parts[-1]):
        root = url.rstrip("/").rsplit("/", 1)[0] or "/"
        return (f"{source!r} looks like a year folder of an SDS archive; give the SDS root that "
                f"holds YEAR/NET/STA/: {root!r}")
    return None
