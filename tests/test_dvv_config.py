"""The [dvv] section: durations, bands, references and their one-line errors."""

from __future__ import annotations

import datetime as dt

import pytest
from c4.config import ConfigError, parse_config
from c4.dvv.config import parse_band, parse_days, parse_reference


def test_durations_bands_and_references_parse() -> None:
    assert parse_days("10d") == 10 and parse_days(3) == 3
    assert parse_band("0.1-1") == (0.1, 1.0)
    ranges, store = parse_reference(["all"])
    assert ranges == [(dt.date.min, dt.date.max)] and store is None
    ranges, _ = parse_reference(["2024-01-03", "2024-02-01/2024-02-10"])
    assert ranges == [(dt.date(2024, 1, 3),) * 2, (dt.date(2024, 2, 1), dt.date(2024, 2, 10))]
    assert parse_reference(["s3://b/out/stacks/ref.zarr"]) == ([], "s3://b/out/stacks/ref.zarr")


@pytest.mark.parametrize(("bad", "message"), [
    (lambda: parse_days("10h"), "not a whole number of days"),
    (lambda: parse_band("1-0.1"), "0 < FMIN < FMAX"),
    (lambda: parse_reference(["2024-02-10/2024-02-01"]), "ends before it starts"),
    (lambda: parse_reference(["2024-13-01"]), "expected 'all'"),
    (lambda: parse_reference(["all", "x/stacks/ref.zarr"]), "must be the only item"),
])
def test_bad_values_say_what_is_wrong(bad, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bad()


def test_config_errors_name_the_dvv_key() -> None:
    cfg = parse_config({"dvv": {"method": "mwcs", "moving": "5", "reference": ["all"]}})
    assert cfg.dvv.moving == "5d" and cfg.dvv.moving_days == 5
    for section, key, text in [({"method": "wavelet"}, "dvv.method", "allowed: stretching"),
                               ({"stack_method": "mean"}, "dvv.stack_method", "allowed: linear"),
                               ({"moving": "ten"}, "dvv.moving", "whole number of days"),
                               ({"mwcs_step": 20.0}, "dvv", "must not exceed mwcs_window"),
                               ({"lag_windows": 1}, "dvv.lag_windows", "unknown key")]:
        with pytest.raises(ConfigError) as err:
            parse_config({"dvv": section})
        assert key in str(err.value) and text in str(err.value), str(err.value)
    # The dvv section does not change what the days are made with.
    assert cfg.fingerprint() == parse_config({}).fingerprint()
