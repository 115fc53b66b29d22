"""Station metadata (StationXML or CSV) and the geometry of station pairs.

``data.stations`` is either

- a directory or S3 prefix of StationXML files, one per station, named ``NET_STA.xml``
  (possibly in per-network folders, as SCEDC publishes ``FDSNstationXML/CI/CI_BAK.xml``), or
- a CSV file with the header ``network,station,latitude,longitude,elevation`` (degrees, m).

Distances are geodesic on the WGS84 ellipsoid (obspy ``gps2dist_azimuth``), in km; the
azimuth is measured at the source from north towards the receiver, the back-azimuth at the
receiver towards the source, both clockwise in degrees.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c4.config import DataConfig
from c4.objstore import Location, is_s3, join

log = logging.getLogger(__name__)

__all__ = ["StationInfo", "Stations", "load_stations", "pair_geometry"]


@dataclass(frozen=True)
class StationInfo:
    latitude: float
    """Degrees north."""
    longitude: float
    """Degrees east."""
    elevation: float
    """Metres above sea level."""


@dataclass
class Stations:
    """Coordinates per ``NET.STA``, and StationXML inventories when loaded from XML."""

    coords: dict[str, StationInfo] = field(default_factory=dict)
    inventories: dict[str, Any] = field(default_factory=dict)
    orientations: dict[str, float] = field(default_factory=dict)
    """Horizontal channels' azimuths (degrees clockwise from north) per ``NET.STA.LOC.CHA``,
    from StationXML (the latest epoch's; none for CSV metadata)."""
    xml_keys: dict[str, str] = field(default_factory=dict)
    location: Location | None = None

    @property
    def known(self) -> set[str]:
        """Station ids with metadata (listed, maybe not yet read)."""
        return set(self.coords) | set(self.xml_keys)

    def load(self, station_ids: set[str], scratch: Path | None = None) -> None:
        """Read the StationXML of ``station_ids`` not read yet (no-op for CSV metadata)."""
        from obspy import read_inventory

        for sid in sorted(station_ids - set(self.coords)):
            key = self.xml_keys.get(sid)
            if key is None or self.location is None:
                continue
            try:
                inv = read_inventory(io.BytesIO(self.location.read_bytes(key)))
                sta = inv.select(network=sid.split(".")[0],
                                 station=sid.split(".")[1])[0][0]
            except Exception as exc:
                log.warning("skipping station %s: unreadable StationXML %s: %s", sid, key, exc)
                self.xml_keys.pop(sid, None)
                continue
            self.inventories[sid] = inv
            self.coords[sid] = StationInfo(float(sta.latitude), float(sta.longitude),
                                           float(sta.elevation))
            for cha in sta.channels:
                if cha.azimuth is not None and cha.dip is not None and abs(cha.dip) < 45:
                    cid = f"{sid}.{cha.location_code}.{cha.code}"
                    self.orientations[cid] = float(cha.azimuth) % 360.0


def _resolve(data: DataConfig) -> str:
    return data.stations or join(data.source, "FDSNstationXML")


def load_stations(data: DataConfig) -> Stations:
    """Index the metadata of ``data.stations`` (CSV read at once; StationXML listed, read
    lazily with :meth:`Stations.load`)."""
    url = _resolve(data)
    if url.lower().endswith(".csv"):
        if is_s3(url):
            base, _, name = url.rpartition("/")
            text = Location(base, data.anonymous, data.endpoint_url).read_bytes(name).decode()
        else:
            try:
                text = Path(url).read_text()
            except FileNotFoundError:
                raise FileNotFoundError(f"data.stations: CSV file {url} not found") from None
        out = Stations()
        for row in csv.DictReader(io.StringIO(text)):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            sid = f"{row['network']}.{row['station']}"
            out.coords[sid] = StationInfo(float(row["latitude"]), float(row["longitude"]),
                                          float(row.get("elevation") or 0.0))
        return out
    loc = Location(url, data.anonymous, data.endpoint_url)
    if not is_s3(url) and not Path(url).is_dir():
        raise FileNotFoundError(f"data.stations: {url} is neither a CSV file nor a directory")
    out = Stations(location=loc)
    for key in loc.list_keys():
        name = key.rsplit("/", 1)[-1]
        if not name.lower().endswith(".xml") or "_" not in name:
            continue
        net, _, sta = name[:-4].partition("_")
        out.xml_keys[f"{net}.{sta}"] = key
    return out


def pair_geometry(src: StationInfo, rcv: StationInfo) -> tuple[float, float, float]:
    """(distance in km, azimuth source→receiver, back-azimuth receiver→source) in degrees."""
    from obspy.geodetics import gps2dist_azimuth

    if (src.latitude, src.longitude) == (rcv.latitude, rcv.longitude):
        return 0.0, 0.0, 0.0
    dist_m, az, baz = gps2dist_azimuth(src.latitude, src.longitude, rcv.latitude, rcv.longitude)
    return dist_m / 1000.0, float(az), float(baz)
