"""Products (Zarr stores) with a completion marker, replaced atomically.

A product named ``rel`` (``stacks/all.zarr``, ``shards/2024-02.zarr``, ``dvv/stretching.zarr``)
is a folder of the results store holding a marker object ``rel/c4-product.json`` and the
version of the store it names, ``rel/v-<UTC time>-<random>/`` (a Zarr v3 store)::

    stacks/all.zarr/c4-product.json      {"version": "v-20260301T120000Z-1a2b3c4d", ...}
    stacks/all.zarr/v-20260301T120000Z-1a2b3c4d/zarr.json, linear/..., ...

A writer (:func:`publish`) uploads a new version under a new name, then writes the marker (one
small object: a single PUT on S3, a rename locally) and only then deletes the other versions.
Killed at any point, it leaves the old product (marker not yet switched) or the new one (marker
switched), never a mix; leftovers of an interrupted writer are deleted by the next one.
Readers follow the marker (:func:`resolve_product`) and ignore a product without one (an
interrupted first write, or a store written by c4 before markers). One writer per product at a
time; a reader that is still reading an old version while a writer deletes it gets an error,
never data of two versions.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

import c4
from c4.objstore import Location

__all__ = ["MARKER", "publish", "resolve_product"]

MARKER = "c4-product.json"
"""Name of the completion marker inside a product's folder."""


def _marker(loc: Location, rel: str) -> dict[str, Any] | None:
    key = f"{rel.strip('/')}/{MARKER}"
    if not loc.exists(key):
        return None
    doc: dict[str, Any] = json.loads(loc.read_bytes(key))
    return doc


def resolve_product(loc: Location, rel: str) -> str | None:
    """The relative path (below ``loc``) of the complete store of product ``rel``, or None
    when ``rel`` has no completion marker (absent, interrupted, or written by an older c4)."""
    doc = _marker(loc, rel)
    if doc is None or not doc.get("version"):
        return None
    return f"{rel.strip('/')}/{doc['version']}"


def _new_version() -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"v-{stamp}-{secrets.token_hex(4)}"


def publish(local: Path, loc: Location, rel: str) -> str:
    """Publish the local Zarr store ``local`` as product ``rel`` of ``loc``: upload it as a new
    version, switch the marker to it, delete every other version (and anything else in the
    product's folder, e.g. a store written in place by an older c4). Returns the new
    version's relative path."""
    rel = rel.strip("/")
    version = _new_version()
    loc.put_tree(local, f"{rel}/{version}")
    doc = {"version": version, "c4_version": c4.__version__,
           "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    loc.write_bytes(f"{rel}/{MARKER}", json.dumps(doc, indent=1).encode())
    for name in loc.list_dirs(rel):
        if name != version:
            loc.delete_tree(f"{rel}/{name}")
    for name in loc.list_names(rel):
        if name != MARKER:
            loc.delete(f"{rel}/{name}")
    return f"{rel}/{version}"
