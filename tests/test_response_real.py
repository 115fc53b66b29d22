"""Instrument response removal with real instruments: IRIS StationXML that obspy ships
(IU_ANMO_BH.xml: poles-zeros, digitizer and FIR stages), including IU.ANMO.10.BHZ, whose sensor
changed on 2014-08-12 (overall sensitivity 3.31e10 counts/(m/s) before, 1.97e9 after).
Counts are made from a known ground velocity through the response of the day's
epoch; c4's preprocessing must give the velocity back on either side of the change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import obspy
import pytest
import reference as ref
from c4.preprocess import ChannelTask, preprocess_channel

INVENTORY = Path(obspy.__file__).parent / "core" / "tests" / "data" / "IU_ANMO_BH.xml"
SEED_ID = "IU.ANMO.10.BHZ"
FS_RAW, FS = 40.0, 20.0
HOURS = 2.0
BAND = (0.05, 2.0)


def ground_velocity(seed: int) -> np.ndarray:
    """Band-limited ground velocity (m/s) of about 1 µm/s."""
    n = int(HOURS * 3600 * FS_RAW)
    white = np.random.default_rng(seed).standard_normal(n)
    return ref.bandpass_day(white, FS_RAW, 0.02, 5.0) * 1e-6


def record(tmp: Path, inv: obspy.Inventory, day: str, velocity: np.ndarray) -> Path:
    """Integer counts of ``velocity`` through the response in force on ``day`` (obspy's
    evaluation of the full StationXML response, applied in the frequency domain), as
    miniSEED."""
    start = obspy.UTCDateTime(day)
    n = len(velocity)
    nfft = 2 * n
    freqs = np.fft.rfftfreq(nfft, 1 / FS_RAW)
    response = inv.get_response(SEED_ID, start + 3600).get_evalresp_response_for_frequencies(
        freqs, output="VEL")
    counts = np.fft.irfft(np.fft.rfft(velocity, nfft) * response, nfft)[:n]
    tr = obspy.Trace(np.round(counts).astype(np.int32), header={
        "network": "IU", "station": "ANMO", "location": "10", "channel": "BHZ",
        "sampling_rate": FS_RAW, "starttime": start})
    path = tmp / f"{day}.mseed"
    tr.write(str(path), format="MSEED", encoding="STEIM2")
    return path


@pytest.mark.parametrize("day", ["2013-05-01", "2015-05-01"])
def test_response_of_the_days_epoch_is_removed(tmp_path: Path, day: str) -> None:
    inv = obspy.read_inventory(str(INVENTORY))
    velocity = ground_velocity(seed=int(day[:4]))
    path = record(tmp_path, inv, day, velocity)
    npts = int(HOURS * 3600 * FS)
    pre_filt = (0.5 * BAND[0], BAND[0], BAND[1], 0.49 * FS)
    task = ChannelTask(SEED_ID, (str(path),), obspy.UTCDateTime(day).isoformat(), npts, FS,
                       0.5, remove_response=True, response_output="VEL", pre_filt=pre_filt,
                       inventory=inv)
    out = preprocess_channel(task)
    assert out.data is not None, out.messages
    # Compare in 0.1-1 Hz, away from the record's ends (taper, filter edges).
    got = ref.bandpass_day(out.data.astype(np.float64), FS, 0.1, 1.0)
    want = ref.bandpass_day(velocity[::2], FS, 0.1, 1.0)
    inner = slice(int(600 * FS), npts - int(600 * FS))
    r = np.corrcoef(got[inner], want[inner])[0, 1]
    ratio = got[inner].std() / want[inner].std()
    assert r > 0.99, r
    assert abs(ratio - 1) < 0.03, ratio


def test_the_two_epochs_really_differ() -> None:
    """The check above would pass with one response for both days only if the epochs were
    alike: they differ by a factor of about 17."""
    inv = obspy.read_inventory(str(INVENTORY))
    freqs = np.array([0.01, 0.1, 1.0])
    before = inv.get_response(SEED_ID, obspy.UTCDateTime("2013-05-01"))
    after = inv.get_response(SEED_ID, obspy.UTCDateTime("2015-05-01"))
    a = np.abs(before.get_evalresp_response_for_frequencies(freqs, output="VEL"))
    b = np.abs(after.get_evalresp_response_for_frequencies(freqs, output="VEL"))
    assert (a / b > 10).all()
