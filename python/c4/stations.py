"""Station metadata by epoch (StationXML, the FDSN station service or CSV), and pair geometry.

``data.stations`` is either

- a directory or S3 prefix of StationXML files, one per station, found at any depth by the
  file-name patterns ``data.station_files`` (default ``{network}_{station}.xml``, the SCEDC's
  ``FDSNstationXML/CI/CI_BAK.xml``, and ``{network}.{station}.xml``, the NCEDC's
  ``FDSNstationXML/BK/BK.BRK.xml``). A pattern may name folders
  (``{network}/{network}.{station}.xml``); the first pattern that finds a station wins. Files
  below a folder named ``unauthoritative-XML`` (where the SCEDC keeps its copies of other
  networks' metadata) are used only for stations that no other file describes;
- a CSV file with the header ``network,station,latitude,longitude,elevation`` (degrees, m) and
  optionally ``start,end`` (ISO dates or times, empty = open) for stations that moved;
- empty: the archive's own metadata (``<source>/FDSNstationXML`` for the SCEDC and NCEDC
  layouts, the station service for ``fdsn``).

Every station keeps all its epochs. A day uses the epoch that overlaps it (the one overlapping
most when a station was re-installed that day): coordinates, channel sample rates, horizontal
orientations and responses all come from that epoch. A station with no epoch overlapping a day
is left out of that day with the log line ``station NET.STA has no metadata epoch covering
YYYY-MM-DD (epochs: ...)``.

Distances are geodesic on the WGS84 ellipsoid (obspy ``gps2dist_azimuth``), in km; the
azimuth is measured at the source from north towards the receiver, the back-azimuth at the
receiver towards the source, both clockwise in degrees.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c4.config import DataConfig
from c4.objstore import Location, is_s3, join

if TYPE_CHECKING:
    from c4.sources import Archive, ChannelId

log = logging.getLogger(__name__)

__all__ = ["Epoch", "StationInfo", "Stations", "load_stations", "pair_geometry",
           "station_file_regex"]

_DAY_S = 86400.0


@dataclass(frozen=True)
class StationInfo:
    latitude: float
    """Degrees north."""
    longitude: float
    """Degrees east."""
    elevation: float
    """Metres above sea level."""


@dataclass(frozen=True)
class Epoch:
    """A time span of metadata: [start, end) in POSIX seconds (None: open)."""

    start: float | None
    end: float | None
    info: StationInfo | None = None
    """Station coordinates (station epochs)."""
    channel: tuple[str, str] | None = None
    """(location, channel code) (channel epochs)."""
    sample_rate: float | None = None
    """Hz (channel epochs)."""
    azimuth: float | None = None
    """Degrees clockwise from north, for horizontal channels (|dip| < 45°; channel epochs)."""

    def overlap(self, t0: float, t1: float) -> float:
        """Seconds of [t0, t1) inside this epoch."""
        lo = t0 if self.start is None else max(t0, self.start)
        hi = t1 if self.end is None else min(t1, self.end)
        return max(0.0, hi - lo)

    def describe(self) -> str:
        def fmt(t: float | None) -> str:
            return "open" if t is None else dt.datetime.fromtimestamp(
                t, dt.timezone.utc).strftime("%Y-%m-%d")
        return f"{fmt(self.start)}..{fmt(self.end)}"


def _day_span(day: dt.date) -> tuple[float, float]:
    t0 = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()
    return t0, t0 + _DAY_S


def _ts(t: Any) -> float | None:
    return None if t is None else float(t.timestamp)


def _best(epochs: Iterable[Epoch], day: dt.date) -> Epoch | None:
    t0, t1 = _day_span(day)
    scored = [(e.overlap(t0, t1), e.start or float("-inf"), i, e)
              for i, e in enumerate(epochs)]
    scored = [s for s in scored if s[0] > 0]
    return max(scored)[3] if scored else None


@dataclass
class Stations:
    """Metadata epochs per ``NET.STA`` (and StationXML inventories when read from XML)."""

    epochs: dict[str, list[Epoch]] = field(default_factory=dict)
    """Station epochs (coordinates)."""
    channels: dict[str, list[Epoch]] = field(default_factory=dict)
    """Channel epochs (sample rates)."""
    inventories: dict[str, Any] = field(default_factory=dict)
    xml_keys: dict[str, str] = field(default_factory=dict)
    location: Location | None = None
    xml_tags: dict[str, str] = field(default_factory=dict)
    """Per station, ``key@size:version`` of its StationXML file as listed (kept when the file
    turns out unreadable)."""

    def metadata_tag(self, sid: str) -> str | None:
        """What the metadata of ``sid`` is made of, to notice it appear or change: its
        StationXML file as listed, else a hash of its epochs (CSV, station service); None
        when there is none."""
        if sid in self.xml_tags:
            return self.xml_tags[sid]
        if sid in self.epochs:
            text = repr((self.epochs[sid], self.channels.get(sid, [])))
            return "epochs@" + hashlib.sha256(text.encode()).hexdigest()[:16]
        return None

    @property
    def known(self) -> set[str]:
        """Station ids with metadata (listed, maybe not yet read)."""
        return set(self.epochs) | set(self.xml_keys)

    def add_inventory(self, inv: Any, sid: str | None = None) -> None:
        """Take the station and channel epochs of an obspy ``Inventory`` (all its stations, or
        only ``sid``)."""
        for net in inv:
            for sta in net:
                this = f"{net.code}.{sta.code}"
                if sid is not None and this != sid:
                    continue
                info = StationInfo(float(sta.latitude), float(sta.longitude),
                                   float(sta.elevation))
                self.epochs.setdefault(this, []).append(
                    Epoch(_ts(sta.start_date), _ts(sta.end_date), info))
                self.channels.setdefault(this, []).extend(
                    Epoch(_ts(c.start_date), _ts(c.end_date), channel=(c.location_code or "",
                                                                        c.code),
                          sample_rate=None if c.sample_rate is None else float(c.sample_rate),
                          azimuth=float(c.azimuth) % 360.0 if c.azimuth is not None
                          and c.dip is not None and abs(c.dip) < 45 else None)
                    for c in sta)
                self.inventories.setdefault(this, inv)

    def load(self, station_ids: set[str]) -> None:
        """Read the StationXML of ``station_ids`` not read yet (no-op for CSV metadata)."""
        from obspy import read_inventory

        for sid in sorted(station_ids - set(self.epochs)):
            key = self.xml_keys.get(sid)
            if key is None or self.location is None:
                continue
            try:
                inv = read_inventory(io.BytesIO(self.location.read_bytes(key)))
                net, sta = sid.split(".")
                inv = inv.select(network=net, station=sta)
                if not len(inv.networks) or not len(inv.networks[0].stations):
                    raise ValueError(f"no station {sid} in it")
            except Exception as exc:
                log.warning("skipping station %s: unreadable StationXML %s: %s", sid, key, exc)
                self.xml_keys.pop(sid, None)
                continue
            self.add_inventory(inv, sid)

    def on(self, sid: str, day: dt.date) -> StationInfo | None:
        """Coordinates of ``sid`` on ``day`` (None: no epoch overlaps the day)."""
        best = _best(self.epochs.get(sid, []), day)
        return best.info if best is not None else None

    def coords_on(self, station_ids: Iterable[str], day: dt.date) -> dict[str, StationInfo]:
        """Coordinates on ``day`` of those ``station_ids`` that have an epoch covering it; the
        others are logged and left out."""
        out = {}
        for sid in sorted(set(station_ids)):
            info = self.on(sid, day)
            if info is not None:
                out[sid] = info
            elif sid in self.epochs:
                spans = ", ".join(e.describe() for e in self.epochs[sid])
                log.warning("station %s has no metadata epoch covering %s (epochs: %s); "
                            "leaving it out that day", sid, day.isoformat(), spans)
        return out

    def rates_on(self, channels: Iterable[ChannelId], day: dt.date) -> dict[ChannelId, float]:
        """Sample rates (Hz) of ``channels`` in the channel epochs overlapping ``day``."""
        out = {}
        for ch in channels:
            best = self._channel_epoch(ch, day, "sample_rate")
            if best is not None and best.sample_rate:
                out[ch] = best.sample_rate
        return out

    def _channel_epoch(self, ch: ChannelId, day: dt.date, attr: str) -> Epoch | None:
        mine = [e for e in self.channels.get(ch.station_id, [])
                if e.channel == (ch.location, ch.channel) and getattr(e, attr) is not None]
        return _best(mine, day)

    def orientations_on(self, channels: Iterable[ChannelId], day: dt.date) -> dict[str, float]:
        """Azimuths (degrees clockwise from north) of the horizontal ``channels`` in their
        channel epochs overlapping ``day``, per ``NET.STA.LOC.CHA`` (none from CSV)."""
        out = {}
        for ch in channels:
            best = self._channel_epoch(ch, day, "azimuth")
            if best is not None and best.azimuth is not None:
                out[ch.id] = best.azimuth
        return out

    def inventory_on(self, sid: str, day: dt.date) -> Any | None:
        """The StationXML of ``sid`` reduced to the epochs overlapping ``day`` (responses for
        response removal), or None."""
        inv = self.inventories.get(sid)
        if inv is None:
            return None
        from obspy import UTCDateTime

        t0, t1 = _day_span(day)
        net, sta = sid.split(".")
        return inv.select(network=net, station=sta, starttime=UTCDateTime(t0),
                          endtime=UTCDateTime(t1))


def station_file_regex(pattern: str) -> re.Pattern[str]:
    """Regex for a ``data.station_files`` pattern, matched against the end of a key at a folder
    boundary; ``{network}`` and ``{station}`` match letters and digits, and a placeholder used
    twice (a folder and the file name) must be the same code both times."""
    body, seen = "", set()
    for part in re.split(r"(\{network\}|\{station\})", pattern):
        if part in ("{network}", "{station}"):
            name = part[1:-1]
            body += f"(?P={name})" if name in seen else f"(?P<{name}>[A-Za-z0-9]+)"
            seen.add(name)
        else:
            body += re.escape(part)
    return re.compile(rf"(?:^|/){body}$")


def _is_unauthoritative(key: str) -> bool:
    return "unauthoritative-xml" in (p.lower() for p in key.split("/")[:-1])


def _index_xml(keys: Iterable[str], patterns: list[str]) -> dict[str, str]:
    regexes = [station_file_regex(p) for p in patterns]
    ranked: dict[str, tuple[int, int, str]] = {}
    for key in keys:
        for i, rx in enumerate(regexes):
            m = rx.search(key)
            if m is None:
                continue
            sid = f"{m['network']}.{m['station']}"
            rank = (int(_is_unauthoritative(key)), i, key)
            if sid not in ranked or rank < ranked[sid]:
                ranked[sid] = rank
            break
    return {sid: rank[2] for sid, rank in ranked.items()}


def _read_csv(url: str, data: DataConfig) -> Stations:
    if is_s3(url):
        base, _, name = url.rpartition("/")
        text = Location(base, data.anonymous, data.endpoint_url).read_bytes(name).decode()
    else:
        try:
            text = Path(url).read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"data.stations: CSV file {url} not found") from None
    out = Stations()

    def when(value: str | None) -> float | None:
        if not value:
            return None
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()

    for row in csv.DictReader(io.StringIO(text)):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        sid = f"{row['network']}.{row['station']}"
        info = StationInfo(float(row["latitude"]), float(row["longitude"]),
                           float(row.get("elevation") or 0.0))
        out.epochs.setdefault(sid, []).append(
            Epoch(when(row.get("start")), when(row.get("end")), info))
    return out


def load_stations(data: DataConfig, archive: Archive | None = None) -> Stations:
    """Index the metadata of ``data.stations`` (see the module docstring): CSV and the FDSN
    station service are read at once, StationXML files are listed and read lazily with
    :meth:`Stations.load`."""
    if not data.stations and archive is not None:
        inv = archive.station_inventory()
        if inv is not None:
            out = Stations()
            out.add_inventory(inv)
            return out
    url = data.stations or (archive.default_stations() if archive is not None
                            else join(data.source, "FDSNstationXML"))
    if url.lower().endswith(".csv"):
        return _read_csv(url, data)
    loc = Location(url, data.anonymous, data.endpoint_url)
    if not is_s3(url) and not Path(url).is_dir():
        raise FileNotFoundError(f"data.stations: {url} is neither a CSV file nor a directory")
    out = Stations(location=loc)
    listed = {o.key: o for o in loc.list_objects(recursive=True)}
    out.xml_keys = _index_xml(listed, data.station_files)
    out.xml_tags = {sid: f"{key}@{listed[key].size}:{listed[key].etag}"
                    for sid, key in out.xml_keys.items()}
    return out


def pair_geometry(src: StationInfo, rcv: StationInfo) -> tuple[float, float, float]:
    """(distance in km, azimuth source→receiver, back-azimuth receiver→source) in degrees."""
    from obspy.geodetics import gps2dist_azimuth

    if (src.latitude, src.longitude) == (rcv.latitude, rcv.longitude):
        return 0.0, 0.0, 0.0
    dist_m, az, baz = gps2dist_azimuth(src.latitude, src.longitude, rcv.latitude, rcv.longitude)
    return dist_m / 1000.0, float(az), float(baz)
