"""``c4.toml``: the one configuration file of a c4 campaign, validated with clear errors.

Sections: ``[data]`` (what to read), ``[processing]`` (how to correlate; NoisePy's parameter
names where one exists), ``[output]`` (where to write), ``[batch]`` (AWS Batch, see
:mod:`c4.batch.config`) and ``[dvv]`` (velocity changes, see :mod:`c4.dvv.config`). Every key
has a default and a one-line description; the commented
default file (``c4 config init``) and ``docs/config.md`` are generated from these models so the
documentation cannot drift. Unknown keys are errors. A validation error is one
:class:`ConfigError` whose message names the key, the problem and the allowed values, e.g.
``processing.time_norm: input should be 'none', 'one_bit', 'rma' or 'clip'; allowed: none,
one_bit, rma, clip``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import typing
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from c4.batch.config import BatchConfig
from c4.dvv.config import DvvConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "OutputConfig",
    "ProcessingConfig",
    "config_markdown",
    "default_toml",
    "load_config",
    "parse_config",
]


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key(s) and the allowed values."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    """What to read: the waveform archive, station metadata, channel selection and dates."""

    layout: Literal["scedc", "ncedc", "sds", "fdsn"] = Field(
        "scedc",
        description="Archive layout: scedc (continuous_waveforms/YYYY/YYYY_DDD/<file>.ms), ncedc "
        "(continuous_waveforms/NET/YYYY/YYYY.DDD/STA.NET.CHA.LOC.D.YYYY.DDD), sds "
        "(YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY), each local or on S3; or fdsn (FDSN "
        "dataselect and station web services).",
    )
    source: str = Field(
        "s3://scedc-pds",
        description="Waveform archive root: a local directory or s3://bucket/prefix (the SCEDC "
        "public bucket by default); for layout fdsn an http(s):// service root or a data centre "
        "name known to obspy (EARTHSCOPE, GEOFON, ...). See docs/sources.md.",
    )
    stations: str = Field(
        "",
        description="Station metadata: a directory/S3 prefix of StationXML files (names per "
        "station_files) or a CSV file (network,station,latitude,longitude,elevation[,start,end]); "
        "empty = the archive's own (<source>/FDSNstationXML, or the FDSN station service).",
    )
    station_files: list[str] = Field(
        default_factory=lambda: ["{network}_{station}.xml", "{network}.{station}.xml"],
        min_length=1,
        description="StationXML file-name patterns below data.stations, at any depth, first "
        "match wins ({network}/{network}.{station}.xml names a folder too); files under "
        "unauthoritative-XML/ (SCEDC) are used only for stations no other file describes.",
    )
    network: list[str] = Field(default_factory=lambda: ["*"],
                               description="Network code glob patterns (any may match).")
    station: list[str] = Field(default_factory=lambda: ["*"],
                               description="Station code glob patterns.")
    location: list[str] = Field(default_factory=lambda: ["*"],
                                description="Location code glob patterns ('' is the empty code).")
    channel: list[str] = Field(default_factory=lambda: ["HH?", "BH?"],
                               description="Channel code glob patterns.")
    components: str = Field(
        "Z", description="Components to correlate (last letter of the channel code), e.g. ZNE."
    )
    channel_priority: list[str] = Field(
        default_factory=list,
        description="When a station has several band/instrument codes: empty = the one with the "
        "lowest sample rate that still covers processing.sampling_rate (BH at 40 Hz before HH "
        "at 100 Hz for 20 Hz: ~2.5x fewer bytes, ~4x less preprocessing); else the first listed "
        "wins (unlisted ones last). Then the lowest location code wins.",
    )
    start: dt.date = Field(dt.date(2024, 1, 1), description="First day (YYYY-MM-DD).")
    end: dt.date = Field(dt.date(2024, 12, 31), description="Last day, inclusive (YYYY-MM-DD).")
    shard: Literal["month", "day"] = Field(
        "month", description="What one Batch array child processes: a calendar month or a day."
    )
    anonymous: bool = Field(
        True, description="Read the source unsigned (public buckets such as scedc-pds)."
    )
    endpoint_url: str = Field(
        "", description="S3 endpoint URL for source and output (empty: AWS_ENDPOINT_URL or AWS)."
    )
    day_length_s: float = Field(
        86400.0, gt=0, le=86400.0,
        description="Seconds of each day file used, from midnight (less only for short "
        "synthetic archives such as the demo's).",
    )
    download_workers: int = Field(16, ge=1, description="Parallel downloads from S3.")
    fdsn_connections: int = Field(
        4, ge=1, le=32,
        description="Layout fdsn: requests in flight at once per process (data centres throttle "
        "clients that open many).",
    )
    fdsn_retries: int = Field(
        6, ge=0, description="Layout fdsn: retries of a throttled (429) or failed request."
    )
    fdsn_backoff_s: float = Field(
        2.0, ge=0,
        description="Layout fdsn: first retry delay, s, doubled each attempt (jittered; at "
        "least the server's Retry-After).",
    )
    fdsn_timeout_s: float = Field(
        120.0, gt=0, description="Layout fdsn: timeout of one request without progress, s."
    )

    @field_validator("components")
    @classmethod
    def _components(cls, v: str) -> str:
        if not v or not v.isalnum() or len(set(v)) != len(v):
            raise ValueError("must be distinct component letters such as 'Z' or 'ZNE'")
        return v.upper()

    @field_validator("source")
    @classmethod
    def _source(cls, v: str, info: ValidationInfo) -> str:
        from c4.sources.urls import source_problem

        problem = source_problem(info.data.get("layout", "scedc"), v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("station_files")
    @classmethod
    def _station_files(cls, v: list[str]) -> list[str]:
        import re

        for pattern in v:
            names = set(re.findall(r"\{([^}]*)\}", pattern))
            if names != {"network", "station"}:
                raise ValueError(f"{pattern!r} must use exactly the placeholders {{network}} "
                                 "and {station}")
        return v

    @model_validator(mode="after")
    def _dates(self) -> DataConfig:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


StackMethod = Literal["linear", "pws", "robust", "nroot", "tfpws", "selective"]
Band = tuple[float, float]

EARTHQUAKE_BAND: Band = (1 / 50, 1 / 15)
"""Bensen et al. (2007)'s band for rma weights: periods of 15-50 s, where earthquakes dominate."""


class ProcessingConfig(_Section):
    """How to correlate. Names follow NoisePy where it has one."""

    sampling_rate: float = Field(20.0, gt=0, description="Sampling rate after resampling, Hz.")
    cc_len: float = Field(1800.0, gt=0, description="Correlation window length, s.")
    step: float = Field(450.0, gt=0, description="Time between window starts, s.")
    freqmin: float = Field(0.05, gt=0, description="Lower corner of the whitening band, Hz.")
    freqmax: float = Field(2.0, gt=0, description="Upper corner of the whitening band, Hz.")
    taper_bins: int = Field(100, ge=0, description="Cosine taper width outside the band, bins.")
    taper_fraction: float = Field(
        0.05, ge=0, le=0.5, description="Cosine taper at each end of a window, fraction."
    )
    taper_s: float = Field(
        0.0, ge=0, description="Cosine taper at each end of a window in s; overrides "
        "taper_fraction when > 0 (NoisePy 0.9.93 tapers 20 samples: 1.0 s at 20 Hz)."
    )
    time_norm: Literal["none", "one_bit", "rma", "clip", "multiband"] = Field(
        "none", description="Time-domain normalisation of each window (multiband: rma in "
        "multiband_n log-spaced sub-bands of rma_band, summed)."
    )
    smooth_n: int = Field(10, ge=1, description="Running-mean length of time_norm=rma, samples.")
    rma_band: Literal["processing", "earthquake", "raw"] | Band = Field(
        "processing", description="Band whose running absolute mean gives the rma weights: "
        "processing (freqmin-freqmax), earthquake (15-50 s periods, Bensen et al. 2007), raw "
        "(the window itself), or [fmin, fmax] in Hz."
    )
    multiband_n: int = Field(4, ge=1, description="Sub-bands of time_norm=multiband.")
    clip_std: float = Field(3.0, gt=0, description="Clip level of time_norm=clip, in std.")
    mute_factor: float = Field(
        0.0, ge=0, description="Transient mute: zero samples whose envelope in the QC band "
        "exceeds this many day medians (0: off; e.g. 5)."
    )
    freq_norm: Literal["none", "rma", "phase_only"] = Field(
        "rma", description="Spectral whitening."
    )
    smoothspect_n: int = Field(10, ge=1,
                               description="Running-mean length of freq_norm=rma, bins.")
    cc_method: Literal["xcorr", "coherency", "deconv", "pcc"] = Field(
        "xcorr", description="Correlation type (pcc: phase cross-correlation PCC2, Ventosa "
        "et al. 2019)."
    )
    maxlag: float = Field(200.0, gt=0, description="Largest lag kept, s (both signs).")
    substack: int = Field(
        0, ge=0, description="Windows per sub-stack within a day (0: one correlation per day)."
    )
    stack_methods: list[StackMethod] = Field(
        default_factory=lambda: list[StackMethod](["linear", "pws"]), min_length=1,
        description="Stacks written per shard: linear, pws, robust, nroot, tfpws, selective.",
    )
    pws_power: float = Field(2.0, gt=0, description="Exponent of the phase-weighted stack.")
    nroot_power: float = Field(2.0, gt=0, description="n of the n-th root stack.")
    robust_epsilon: float = Field(1e-6, gt=0, description="Convergence of the robust stack.")
    robust_max_iter: int = Field(10, ge=1, description="Iterations of the robust stack.")
    selective_threshold: float = Field(
        0.0, ge=-1, le=1, description="Selective stack: keep days whose correlation "
        "coefficient with the linear stack is at least this."
    )
    max_distance_km: float = Field(
        10000.0, ge=0, description="Largest inter-station distance correlated, km."
    )
    autocorr: bool = Field(False, description="Also compute auto-correlations (a channel with "
                           "itself).")
    cross_components: bool = Field(
        True, description="Correlate different components (e.g. ZN) as well as equal ones."
    )
    min_data_fraction: float = Field(
        0.5, ge=0, le=1, description="Drop a channel-day with less data than this fraction."
    )
    max_gap_fraction: float = Field(
        0.05, ge=0, le=1, description="Drop a window whose share of gap samples exceeds this."
    )
    max_std_ratio: float = Field(
        10.0, gt=0,
        description="Drop a window whose max|y|/std(y) over the window exceeds this (y: the "
        "window in qc_band).",
    )
    max_over_std: float = Field(
        math.inf, gt=0,
        description="Drop a window whose max|y| exceeds this many standard deviations of y "
        "over the whole day (NoisePy's max_over_std, 10 there; inf: off).",
    )
    qc_band: Literal["processing", "raw"] | Band = Field(
        "processing", description="Band of the window QC signal y: processing "
        "(freqmin-freqmax), raw (the detrended window), or [fmin, fmax] in Hz "
        "(NoisePy: [0.9 freqmin, 1.1 freqmax])."
    )
    remove_response: bool = Field(
        False, description="Remove the instrument response (StationXML metadata needed)."
    )
    response_output: Literal["DISP", "VEL", "ACC"] = Field(
        "VEL", description="Ground-motion unit after response removal."
    )
    preprocess: Literal["kernels", "obspy"] = Field(
        "kernels", description="Preprocessing path: kernels (libmseed decoding and the Rust "
        "kernels in threads) or obspy (the reference path in a process pool, ~10x slower).",
    )
    workers: int = Field(
        0, ge=0, description="Preprocessing threads (kernels) or processes (obspy); 0: one per "
        "core.",
    )
    threads: int = Field(
        0, ge=0, description="Kernel threads (0: C4_NUM_THREADS or one per core)."
    )
    pair_block: int = Field(
        20000, ge=1, description="Pairs correlated per block (bounds memory)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProcessingConfig:
        nyquist = self.sampling_rate / 2
        if self.freqmax <= self.freqmin:
            raise ValueError(f"freqmax ({self.freqmax}) must exceed freqmin ({self.freqmin})")
        if self.freqmax >= nyquist:
            raise ValueError(f"freqmax ({self.freqmax}) must be below Nyquist ({nyquist} Hz)")
        if self.step > self.cc_len:
            raise ValueError(f"step ({self.step}) must not exceed cc_len ({self.cc_len})")
        for name in ("cc_len", "step", "maxlag", "taper_s"):
            n = getattr(self, name) * self.sampling_rate
            if abs(n - round(n)) > 1e-6:
                raise ValueError(f"{name} must be a whole number of samples at "
                                 f"sampling_rate={self.sampling_rate}")
        if self.maxlag >= self.cc_len:
            raise ValueError(f"maxlag ({self.maxlag} s) must be shorter than cc_len "
                             f"({self.cc_len} s); lower maxlag or lengthen cc_len")
        if self.remove_response and self.freqmax >= 0.49 * self.sampling_rate:
            raise ValueError(f"freqmax ({self.freqmax}) must be below 0.49 x sampling_rate "
                             f"({0.49 * self.sampling_rate:g} Hz) with remove_response: the "
                             "response pre-filter ends at 1.5 freqmax or 0.49 x sampling_rate")
        if self.nroot_power < 1 and "nroot" in self.stack_methods:
            raise ValueError(f"nroot_power ({self.nroot_power}) must be at least 1")
        if self.taper_s > self.cc_len / 2:
            raise ValueError(f"taper_s ({self.taper_s}) must not exceed cc_len / 2")
        if self.mute_factor and self.mute_factor <= 1:
            raise ValueError(f"mute_factor ({self.mute_factor}) must be 0 (off) or > 1")
        for name in ("qc_band", "rma_band"):
            band = getattr(self, name)
            if isinstance(band, tuple) and not (0 < band[0] < band[1] < nyquist):
                raise ValueError(f"{name} {list(band)} must satisfy 0 < fmin < fmax < "
                                 f"Nyquist ({nyquist} Hz)")
        return self

    def qc_band_hz(self) -> Band | None:
        """The QC band in Hz (None: QC on the raw window)."""
        return _resolve_band(self.qc_band, self)

    def rma_band_hz(self) -> Band | None:
        """The rma weights' band in Hz (None: the window itself)."""
        return _resolve_band(self.rma_band, self)

    def spectra_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`c4.kernels.spectra` for these settings."""
        uses_band = self.time_norm in ("rma", "multiband")
        return {
            "cc_len": self.cc_len, "step": self.step, "maxlag": self.maxlag,
            "freqmin": self.freqmin, "freqmax": self.freqmax,
            "taper_fraction": self.taper_fraction, "taper_s": self.taper_s or None,
            "taper_bins": self.taper_bins, "time_norm": self.time_norm,
            "smooth_n": self.smooth_n, "clip_std": self.clip_std,
            "rma_band": self.rma_band_hz() if uses_band else None,
            "multiband_n": self.multiband_n, "freq_norm": self.freq_norm,
            "smoothspect_n": self.smoothspect_n, "max_gap_fraction": self.max_gap_fraction,
            "max_std_ratio": self.max_std_ratio, "max_over_std": self.max_over_std,
            "qc_band": self.qc_band_hz(), "mute_factor": self.mute_factor or None,
            "mute_band": self.qc_band_hz(), "phase": self.cc_method == "pcc",
        }


def _resolve_band(value: str | Band, p: ProcessingConfig) -> Band | None:
    if value == "processing":
        return (p.freqmin, p.freqmax)
    if value == "earthquake":
        return EARTHQUAKE_BAND
    if isinstance(value, str):  # "raw"
        return None
    lo, hi = value
    return (float(lo), float(hi))


def auto_scratch() -> Path:
    """The scratch folder of a local run without ``/scratch``: ``<temp dir>/c4-scratch``."""
    import tempfile

    return Path(tempfile.gettempdir()) / "c4-scratch"


def default_scratch(volume: str = "/scratch") -> str:
    """``output.scratch`` when unset: the scratch ``volume`` on AWS Batch (``AWS_BATCH_JOB_ID``
    set) or where it exists, else :func:`auto_scratch` (created if missing)."""
    import os

    if os.environ.get("AWS_BATCH_JOB_ID") or Path(volume).is_dir():
        return volume
    auto = auto_scratch()
    auto.mkdir(parents=True, exist_ok=True)
    return str(auto)


class OutputConfig(_Section):
    """Where results go."""

    output: str = Field("c4-results",
                        description="Results store: a local directory or s3://bucket/prefix.")
    scratch: str = Field(
        "",
        description="Local working directory; each run works in its own subfolder. Empty: "
        "batch.scratch_container_path (/scratch) on AWS Batch (AWS_BATCH_JOB_ID set) or "
        "where it exists, else <system temp dir>/c4-scratch (created, and logged).",
    )
    min_free_gb: float = Field(1.0, ge=0, description="Free scratch space needed per day, GB.")

    pair_partitions: int = Field(
        64, ge=1, le=65536,
        description="Pairs are split into at most this many partitions, blocks of source x "
        "receiver channels (channel ids hashed into floor(sqrt(n)) blocks): one daily file "
        "each, correlated and written one at a time and stacked in batches of "
        "output.stack_batch_mb, so memory stays bounded (a partition holds about days x pairs "
        "/ partitions x lags x 4 bytes). Raise it for very large networks.",
    )
    stack_batch_mb: float = Field(
        1024.0, gt=0,
        description="Daily correlations (MiB) stacked at once by shard stacks and c4 stack: "
        "partitions are gathered up to this size, and a larger one is stacked in blocks of its "
        "pairs (its days spilled to scratch), so a stack of any length holds about twice this "
        "in memory.",
    )
    daily: str = Field(
        "float32",
        description="Daily correlations kept once a shard is stacked: 'float32' (as computed), "
        "'float16' (half the bytes, ~3 significant digits), 'substack:N' (linear stacks of N "
        "consecutive days) or 'none' (only the shard stacks). Kept as one sharded Zarr store "
        "per shard, daily/<label>.zarr; until the shard is stacked its days are float32 files in "
        "the store's work area, so a resumed run is bit-identical for every choice.",
    )

    @field_validator("daily")
    @classmethod
    def _daily_choice(cls, v: str) -> str:
        from c4.dailyproduct import DailyChoice

        return str(DailyChoice.parse(v))


class Config(_Section):
    """A whole ``c4.toml``."""

    data: DataConfig = Field(default_factory=DataConfig)
    processing: ProcessingConfig = Field(default_factory=ProcessingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    dvv: DvvConfig = Field(default_factory=DvvConfig)

    @model_validator(mode="after")
    def _across_sections(self) -> Config:
        from c4.config_rules import cross_section_problems

        for problem in cross_section_problems(self):
            raise ValueError(problem)
        return self

    def scratch_dir(self) -> str:
        """``output.scratch``, or where a run works when it is unset (:func:`default_scratch`
        with ``batch.scratch_container_path``)."""
        return self.output.scratch or default_scratch(self.batch.scratch_container_path)

    def to_toml(self) -> str:
        """The config as TOML (stored with every result)."""
        return tomli_w.dumps(_plain(self.model_dump(mode="json", exclude_none=True)))

    def fingerprint_settings(self) -> dict[str, Any]:
        """What determines the numbers of a day (data selection and processing), as plain
        data: the keys :meth:`fingerprint` hashes."""
        return {"data": self.data.model_dump(mode="json", exclude={
            "start", "end", "shard", "download_workers", "fdsn_connections", "fdsn_retries",
            "fdsn_backoff_s", "fdsn_timeout_s"}),
                "processing": self.processing.model_dump(
                    mode="json", exclude={"workers", "pair_block", "stack_methods"})}

    def fingerprint(self) -> str:
        """Hash of what determines the numbers of a day (data selection and processing)."""
        keep = self.fingerprint_settings()
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _describe_allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """The allowed values (Literal) or keys (unknown key) at ``loc``."""
    cls: Any = model
    for i, part in enumerate(loc):
        fields = getattr(cls, "model_fields", None)
        if fields is None:
            return ""
        if part not in fields:
            return "allowed keys: " + ", ".join(fields)
        ann = fields[part].annotation
        if i == len(loc) - 1 or not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            args = _literal_args(ann)
            return "allowed: " + ", ".join(map(str, args)) if args else ""
        cls = ann
    return ""


def _literal_args(ann: Any) -> tuple[Any, ...]:
    if typing.get_origin(ann) is Literal:
        return typing.get_args(ann)
    for arg in typing.get_args(ann):
        found = _literal_args(arg)
        if found:
            return found
    return ()


def _name_the_key(loc: tuple[Any, ...], key: str, problem: str) -> tuple[str, str]:
    """A section-wide rule's message names its key first ("maxlag (...) must ..." in
    processing, "processing.cc_len ..." across sections): report it under that key."""
    first = problem.split(" ", 1)[0].rstrip(":")
    if not loc and "." in first:
        section, _, name = first.partition(".")
        model = Config.model_fields.get(section)
        fields = getattr(model.annotation, "model_fields", {}) if model else {}
        if name in fields:
            return first, _unwrap_value(problem[len(first):].lstrip(": "))
    if len(loc) == 1:
        model = Config.model_fields.get(str(loc[0]))
        fields = getattr(model.annotation, "model_fields", {}) if model else {}
        if first in fields:
            return f"{loc[0]}.{first}", _unwrap_value(problem[len(first):].lstrip(": "))
    return key, problem


def _unwrap_value(text: str) -> str:
    """``(1800.0 s) must ...`` -> ``1800.0 s must ...`` (after the key has been taken off)."""
    if text.startswith("(") and ")" in text:
        inner, _, rest = text[1:].partition(")")
        return f"{inner}{rest}"
    return text


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not isinstance(p, int))
        key = ".".join(str(p) for p in e["loc"]) or "config"
        if e["type"] == "extra_forbidden":
            problem = "unknown key"
            allowed = _describe_allowed(Config, loc)
        else:
            problem = e["msg"].removeprefix("Value error, ")
            key, problem = _name_the_key(loc, key, problem)
            problem = problem[:1].lower() + problem[1:]
            allowed = _describe_allowed(Config, loc)
        lines.append(f"{key}: {problem}" + (f"; {allowed}" if allowed else ""))
    return "\n".join(lines)


def parse_config(data: dict[str, Any]) -> Config:
    """Validate a config mapping; raises :class:`ConfigError` with one line per problem."""
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err)) from None


def set_key(data: dict[str, Any], assignment: str) -> None:
    """Apply a ``section.key=value`` override (value parsed as TOML, else a plain string)."""
    if "=" not in assignment:
        raise ConfigError(f"{assignment!r}: expected section.key=value")
    key, _, raw = assignment.partition("=")
    parts = [p.strip() for p in key.strip().split(".") if p.strip()]
    if len(parts) < 2:
        raise ConfigError(f"{key!r}: expected section.key, e.g. processing.cc_len")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {p} is not a section")
    node[parts[-1]] = value


def load_config(
    url: str | Path | None = None, overrides: list[str] | None = None, *,
    endpoint_url: str = "",
) -> Config:
    """Read ``c4.toml`` (a path or ``s3://`` URL; None: all defaults) and apply overrides
    (``["processing.cc_len=600", ...]``)."""
    data: dict[str, Any] = {}
    if url is not None:
        url = str(url)
        try:
            if url.startswith("s3://"):
                from c4.objstore import Location, split_s3

                bucket, key = split_s3(url)
                location = Location(f"s3://{bucket}", endpoint_url=endpoint_url)
                text = location.read_bytes(key).decode()
            else:
                text = Path(url).read_text()
        except FileNotFoundError:
            raise ConfigError(f"config file {url} not found") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{url}: not valid TOML: {exc}") from None
        if not data:
            raise ConfigError(f"config file {url} is empty (no settings); write one with "
                              f"`c4 config init > {url}` (or pass no --config for all "
                              "defaults)")
    for assignment in overrides or []:
        set_key(data, assignment)
    return parse_config(data)


def _toml_value(value: Any) -> str:
    """One-line TOML rendering of a default value (inline arrays and tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, dt.date)):
        return str(value) if not isinstance(value, float) or value == value else "nan"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot render {value!r} as TOML")


def _sections() -> list[tuple[str, type[BaseModel]]]:
    return [(name, f.annotation) for name, f in Config.model_fields.items()]  # type: ignore[misc]


def default_toml() -> str:
    """A commented ``c4.toml`` with every key at its default (what ``c4 config init`` writes)."""
    defaults = Config().model_dump()
    out = ["# c4 configuration. Every key is shown at its default; see docs/config.md.", ""]
    for name, model in _sections():
        out.append(f"# {(model.__doc__ or '').strip().splitlines()[0]}")
        out.append(f"[{name}]")
        for key, field in model.model_fields.items():
            out.append(f"# {field.description}")
            value = defaults[name].get(key)
            if value is None:
                out.append(f"# {key} =   (unset)")
            else:
                out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)


def config_markdown() -> str:
    """Markdown reference of every key (the body of docs/config.md)."""
    defaults = Config().model_dump()
    out = ["# c4.toml reference", "",
           "Generated from `c4.config` (`python -c 'import c4.config as c; "
           "print(c.config_markdown())' > docs/config.md`); a test checks it is current. "
           "`c4 config init` writes the same defaults as a commented file.", ""]
    for name, model in _sections():
        out += [f"## [{name}]", "", (model.__doc__ or "").strip().splitlines()[0], "",
                "| key | default | description |", "| --- | --- | --- |"]
        for key, field in model.model_fields.items():
            value = defaults[name].get(key)
            shown = "(unset)" if value is None else _toml_value(value)
            desc = (field.description or "").replace("|", "\\|")
            shown = shown.replace("|", "\\|")
            out.append(f"| `{key}` | `{shown}` | {desc} |")
        out.append("")
    return "\n".join(out)
