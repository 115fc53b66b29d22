"""c4.toml: defaults, clear errors naming the key, overrides, generated docs."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from c4.config import Config, ConfigError, config_markdown, default_toml, load_config, parse_config

from tests.pipeline_helpers import run_c4

REPO = Path(__file__).resolve().parents[1]


def test_defaults_are_valid_and_follow_noisepy_names() -> None:
    cfg = Config()
    p = cfg.processing
    assert (p.sampling_rate, p.cc_len, p.step, p.maxlag) == (20.0, 1800.0, 450.0, 200.0)
    assert p.time_norm == "none" and p.freq_norm == "rma" and p.cc_method == "xcorr"
    assert cfg.data.layout == "scedc" and cfg.data.shard == "month"


def test_unknown_key_names_the_key_and_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"processing": {"cc_lenght": 600}})
    msg = str(err.value)
    assert msg.startswith("processing.cc_lenght: unknown key; allowed keys:")
    assert "cc_len" in msg and "freqmin" in msg


def test_bad_choice_lists_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"processing\.time_norm: .*allowed: none, one_bit, "
                                          r"rma, clip"):
        parse_config({"processing": {"time_norm": "onebit"}})
    with pytest.raises(ConfigError, match=r"data\.layout: .*allowed: scedc, ncedc, sds, fdsn"):
        parse_config({"data": {"layout": "sac"}})
    with pytest.raises(ConfigError, match=r"processing\.stack_methods\.0: .*allowed: linear"):
        parse_config({"processing": {"stack_methods": ["median"]}})


def test_cross_field_checks() -> None:
    with pytest.raises(ConfigError, match=r"freqmax .* below Nyquist"):
        parse_config({"processing": {"sampling_rate": 2.0, "freqmax": 1.5}})
    with pytest.raises(ConfigError, match=r"end .* before start"):
        parse_config({"data": {"start": "2024-02-01", "end": "2024-01-01"}})
    with pytest.raises(ConfigError, match="whole number of samples"):
        parse_config({"processing": {"maxlag": 10.03}})


def test_overrides_and_file_loading(tmp_path: Path) -> None:
    path = tmp_path / "c4.toml"
    path.write_text('[processing]\ncc_len = 600.0\nstep = 300.0\n[data]\nsource = "/archive"\n')
    cfg = load_config(path, ["processing.maxlag=50", "output.output=s3://bucket/run",
                             "data.components=ZNE"])
    assert cfg.processing.cc_len == 600 and cfg.processing.maxlag == 50
    assert cfg.output.output == "s3://bucket/run" and cfg.data.components == "ZNE"
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_default_toml_is_commented_and_round_trips() -> None:
    text = default_toml()
    data = tomllib.loads(text)
    assert parse_config(data) == Config()
    # every key has its one-line description as a comment
    for key, field in Config.model_fields["processing"].annotation.model_fields.items():
        assert f"# {field.description}\n{key} = " in text


def test_docs_config_md_is_generated_from_the_model() -> None:
    assert (REPO / "docs" / "config.md").read_text() == config_markdown() + "\n", (
        "docs/config.md is stale: python -c 'import c4.config as c; "
        "print(c.config_markdown())' > docs/config.md")


def test_cli_config_init_and_wrong_key(tmp_path: Path) -> None:
    out = run_c4("config", "init", str(tmp_path / "c4.toml"))
    assert out.returncode == 0, out.stderr
    assert "[processing]" in (tmp_path / "c4.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nlayot = 'sds'\n")
    out = run_c4("correlate", "--config", str(bad), "--index", "0")
    assert out.returncode == 2
    assert "data.layot: unknown key; allowed keys: layout, source" in out.stderr
    assert "Traceback" not in out.stderr
