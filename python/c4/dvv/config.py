"""The ``[dvv]`` section of ``c4.toml``: moving stacks, reference, method and lag windows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DvvConfig", "parse_band", "parse_days", "parse_reference"]

_DAYS = re.compile(r"^\s*(\d+)\s*d?\s*$")


def parse_days(text: str | int, name: str = "duration") -> int:
    """Whole days of ``"10d"`` (or ``"10"``, ``10``); a ``ValueError`` naming ``name`` else."""
    m = _DAYS.match(str(text))
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"{name}: {text!r} is not a whole number of days such as '10d'")
    return int(m.group(1))


def parse_band(text: str) -> tuple[float, float]:
    """``"0.1-1"`` -> ``(0.1, 1.0)`` Hz; a ``ValueError`` unless ``0 < fmin < fmax``."""
    lo, sep, hi = str(text).partition("-")
    try:
        band = (float(lo), float(hi)) if sep else None
    except ValueError:
        band = None
    if band is None or not 0 < band[0] < band[1]:
        raise ValueError(f"band {text!r}: expected FMIN-FMAX in Hz with 0 < FMIN < FMAX, "
                         "e.g. 0.1-1")
    return band


def parse_reference(items: list[str]) -> tuple[list[tuple[dt.date, dt.date]], str | None]:
    """The day ranges and the stack store named by ``dvv.reference``.

    Items are ``"all"`` (every day), ``"YYYY-MM-DD"`` (one day), ``"YYYY-MM-DD/YYYY-MM-DD"``
    (a range, both ends included) or one URL/path ending in ``.zarr`` (an existing stack, e.g.
    from ``c4 stack --name ref``). Returns (ranges, store); ``"all"`` is the range
    ``(date.min, date.max)``.
    """
    ranges: list[tuple[dt.date, dt.date]] = []
    store = None
    for item in items:
        text = str(item).strip()
        if text == "all":
            ranges.append((dt.date.min, dt.date.max))
        elif text.rstrip("/").endswith(".zarr"):
            if store is not None or len(items) > 1:
                raise ValueError(f"reference {text!r}: a stack store must be the only item")
            store = text
        else:
            first, _, last = text.partition("/")
            try:
                a = dt.date.fromisoformat(first.strip())
                b = dt.date.fromisoformat(last.strip()) if last else a
            except ValueError:
                raise ValueError(f"reference {text!r}: expected 'all', YYYY-MM-DD, "
                                 "YYYY-MM-DD/YYYY-MM-DD or a .zarr stack store") from None
            if b < a:
                raise ValueError(f"reference {text!r}: the range ends before it starts")
            ranges.append((a, b))
    if not ranges and store is None:
        raise ValueError("reference: give at least one item ('all', a day, a range or a store)")
    return ranges, store


class DvvConfig(BaseModel):
    """Velocity changes (`c4 dvv`): moving stacks, reference, method, band and lag windows."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    method: Literal["stretching", "mwcs"] = Field(
        "stretching", description="dv/v method: stretching (Sens-Schönfelder & Wegler 2006) or "
        "mwcs (moving-window cross-spectrum, Clarke et al. 2011).")
    stack_method: str = Field(
        "linear", description="Stack of the moving windows and the reference (any stack "
        "method of processing.stack_methods' list of kernels).")
    moving: str = Field("10d", description="Moving-window length in days, e.g. '10d'.")
    moving_step: str = Field("1d", description="Step between moving windows in days.")
    reference: list[str] = Field(
        default_factory=lambda: ["all"],
        description="Reference: 'all' (every day), days 'YYYY-MM-DD', ranges "
        "'YYYY-MM-DD/YYYY-MM-DD' (any mix), or one stack store '…/stacks/ref.zarr'.")
    freqmin: float = Field(0.0, ge=0, description="Band of the measurement, lower corner in "
                           "Hz (0: processing.freqmin).")
    freqmax: float = Field(0.0, ge=0, description="Upper corner in Hz (0: processing.freqmax).")
    branch: Literal["both", "causal", "acausal", "symmetric"] = Field(
        "both", description="Lags measured: both branches together, the causal (positive) or "
        "acausal (negative) one, or their average (symmetric).")
    lag_min: float = Field(5.0, ge=0, description="Lag window start, s (absolute lag).")
    lag_min_travel_times: float = Field(
        0.0, ge=0, description="Start the lag window at least this many inter-station travel "
        "times (distance / velocity_km_s) from zero lag (0: off).")
    lag_max: float = Field(0.0, ge=0, description="Lag window end, s (0: processing.maxlag).")
    lag_max_travel_times: float = Field(
        0.0, ge=0, description="End the lag window at most this many travel times from zero "
        "lag (0: off).")
    lag_length: float = Field(0.0, ge=0, description="Longest lag window, s (0: off).")
    velocity_km_s: float = Field(3.0, gt=0, description="Velocity of the travel-time rules, "
                                 "km/s.")
    max_stretch: float = Field(0.02, gt=0, lt=0.5, description="Stretching: largest |dv/v| "
                               "tried (fraction).")
    stretch_steps: int = Field(101, ge=3, description="Stretching: grid points over "
                               "±max_stretch before refinement.")
    mwcs_window: float = Field(10.0, gt=0, description="MWCS: window length, s.")
    mwcs_step: float = Field(5.0, gt=0, description="MWCS: step between windows, s.")
    mwcs_smooth_bins: int = Field(3, ge=1, description="MWCS: half-width of the spectral "
                                  "smoothing, bins.")
    mwcs_min_coherence: float = Field(0.5, ge=0, le=1, description="MWCS: windows with a "
                                      "lower mean coherence are not used.")
    mwcs_max_dt: float = Field(1.0, gt=0, description="MWCS: windows with a larger |delay|, "
                               "s, are not used.")
    mwcs_intercept: bool = Field(True, description="MWCS: fit dt = a + (dt/t) t (a absorbs a "
                                 "clock shift) instead of dt = (dt/t) t.")
    min_days: int = Field(1, ge=1, description="Moving windows with fewer days of data are "
                          "not measured.")

    @field_validator("moving", "moving_step")
    @classmethod
    def _days(cls, v: str) -> str:
        return f"{parse_days(v)}d"

    @field_validator("reference")
    @classmethod
    def _reference(cls, v: list[str]) -> list[str]:
        parse_reference(v)
        return v

    @field_validator("stack_method")
    @classmethod
    def _stack_method(cls, v: str) -> str:
        from c4.kernels import STACK_METHODS

        if v not in STACK_METHODS:
            raise ValueError(f"unknown stack method {v!r}; allowed: {', '.join(STACK_METHODS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DvvConfig:
        if self.freqmax and self.freqmin >= self.freqmax:
            raise ValueError(f"freqmax ({self.freqmax}) must exceed freqmin ({self.freqmin})")
        if self.lag_max and self.lag_max <= self.lag_min:
            raise ValueError(f"lag_max ({self.lag_max}) must exceed lag_min ({self.lag_min})")
        if self.mwcs_step > self.mwcs_window:
            raise ValueError(f"mwcs_step ({self.mwcs_step}) must not exceed mwcs_window "
                             f"({self.mwcs_window})")
        return self

    @property
    def moving_days(self) -> int:
        return parse_days(self.moving)

    @property
    def step_days(self) -> int:
        return parse_days(self.moving_step)
