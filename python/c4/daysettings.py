"""The settings the days of a stack were made with; days of different settings never mix.

Every day's manifest entry carries the fingerprint of its config (:meth:`c4.config.Config.
fingerprint`: data selection and processing) and the whole config as TOML (``config``). A
stack is made only of days of one fingerprint, and only with a config of that fingerprint:
either the user's config has it, or (``c4 stack --days-settings``) the days' own config is
taken, with the user's output, batch and dv/v sections and stack methods. Anything else is a
``ValueError`` naming the config keys that differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tomllib

from c4.config import Config, parse_config

__all__ = ["StackSettings", "differing_keys", "stack_settings"]

_USER_PROCESSING = ("workers", "pair_block", "stack_methods")
"""Processing keys outside the fingerprint: always the user's."""


@dataclass(frozen=True)
class StackSettings:
    """What a stack is made with."""

    config: Config
    """The config to stack with; its fingerprint is the days'."""
    fingerprints: list[str]
    """The days' fingerprints (one)."""
    days_config: str
    """The days' config as TOML (first day's; "" when the days do not record it)."""

    def attrs(self) -> dict[str, Any]:
        """Provenance attributes: ``fingerprints`` and ``days_config``."""
        return {"fingerprints": list(self.fingerprints), "days_config": self.days_config}


def _flat(doc: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {prefix: doc}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def differing_keys(a: Config, b: Config) -> list[str]:
    """The fingerprinted keys whose values differ: ``"section.key (a, b)"``, sorted."""
    fa, fb = _flat(a.fingerprint_settings()), _flat(b.fingerprint_settings())
    return [f"{k} ({fa.get(k)!r}, {fb.get(k)!r})" for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k)]


def _days(entries: Sequence[dict[str, Any]]) -> str:
    days = [str(e["day"]) for e in entries]
    return days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]} ({len(days)} days)"


def _config_of(entry: dict[str, Any]) -> Config | None:
    text = entry.get("config")
    return parse_config(tomllib.loads(text)) if isinstance(text, str) and text else None


def _diff(a: Config | None, b: Config | None, names: str) -> str:
    if a is None or b is None:
        return "the days do not record their config (made by an older c4)"
    keys = differing_keys(a, b)
    return f"keys differing ({names}): " + "; ".join(keys) if keys else (
        "no key differs (the fingerprint was computed by another c4 version)")


def stack_settings(config: Config, entries: Sequence[dict[str, Any]], *,
                   days_settings: bool = False) -> StackSettings:
    """The settings to stack the days of ``entries`` (manifest entries, non-empty) with.

    ``ValueError`` when the days were made with several fingerprints, or with another
    fingerprint than ``config`` and not ``days_settings``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(str(e.get("fingerprint")), []).append(e)
    if len(groups) > 1:
        (fa, ea), (fb, eb) = list(groups.items())[:2]
        raise ValueError(
            f"the days were made with {len(groups)} different settings ({_days(ea)}: "
            f"fingerprint {fa}; {_days(eb)}: fingerprint {fb}; "
            f"{_diff(_config_of(ea[0]), _config_of(eb[0]), 'first, second')}); days of "
            "different settings are never stacked together: choose days of one with "
            "--start/--end, or recompute the others")
    (fingerprint, group), = groups.items()
    days_config = _config_of(group[0])
    toml = str(group[0].get("config") or "")
    if fingerprint == config.fingerprint():
        return StackSettings(config, [fingerprint], toml)
    if not days_settings:
        raise ValueError(
            f"the days ({_days(group)}) were made with other settings than this config "
            f"(fingerprint {fingerprint}, config {config.fingerprint()}); "
            f"{_diff(days_config, config, 'days, config')}. Fix the config, or stack the days "
            "with their own settings (c4 stack --days-settings)")
    if days_config is None:
        raise ValueError(f"--days-settings: the days ({_days(group)}) do not record their "
                         "config (made by an older c4); recompute them or use their config")
    processing = days_config.processing.model_copy(
        update={k: getattr(config.processing, k) for k in _USER_PROCESSING})
    merged = days_config.model_copy(update={
        "processing": processing, "output": config.output, "batch": config.batch,
        "dvv": config.dvv})
    if merged.fingerprint() != fingerprint:
        raise ValueError(f"--days-settings: the config recorded with the days ({_days(group)}) "
                         f"has fingerprint {merged.fingerprint()}, not their {fingerprint} "
                         "(made by another c4 version); recompute them")
    return StackSettings(merged, [fingerprint], toml)
