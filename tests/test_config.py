"""c4.toml: defaults, clear errors naming the key, overrides, generated docs."""

from __future__ import annotations

import subprocess
import sys
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
    with pytest.raises(ConfigError, match=r"^processing\.freqmax: 1\.5 must be below Nyquist"):
        parse_config({"processing": {"sampling_rate": 2.0, "freqmax": 1.5}})
    with pytest.raises(ConfigError, match=r"^data\.end: .* before start"):
        parse_config({"data": {"start": "2024-02-01", "end": "2024-01-01"}})
    with pytest.raises(ConfigError, match="whole number of samples"):
        parse_config({"processing": {"maxlag": 10.03}})


@pytest.mark.parametrize(("settings", "message"), [
    # each of these used to pass validation and fail in the kernels after a day's download
    ({"processing": {"maxlag": 1800.0}},
     r"^processing\.maxlag: 1800\.0 s must be shorter than cc_len \(1800\.0 s\)"),
    ({"processing": {"maxlag": 2000.0}}, r"^processing\.maxlag: .* shorter than cc_len"),
    ({"data": {"day_length_s": 600.0}},
     r"^processing\.cc_len: 1800\.0 s is longer than a day file \(data\.day_length_s"),
    ({"processing": {"substack": 190}},
     r"^processing\.substack: 190 exceeds the 189 windows of a day"),
    ({"processing": {"step": 2000.0}}, r"^processing\.step: .* must not exceed cc_len"),
    ({"processing": {"freqmin": 2.0, "freqmax": 1.0}},
     r"^processing\.freqmax: .* must exceed freqmin"),
    # a band narrower than one frequency bin: only the kernels know the resolution
    ({"processing": {"freqmin": 0.0001, "freqmax": 0.0002}},
     r"^processing\.freqmax: band 0\.0001-0\.0002 Hz holds no bin"),
    ({"processing": {"remove_response": True, "freqmax": 9.9}},
     r"^processing\.freqmax: 9\.9 must be below 0\.49 x sampling_rate"),
    ({"processing": {"stack_methods": ["nroot"], "nroot_power": 0.5}},
     r"^processing\.nroot_power: 0\.5 must be at least 1"),
    ({"dvv": {"lag_min": 300.0}}, r"^dvv\.lag_min: 300\.0 s must be below processing\.maxlag"),
    ({"dvv": {"freqmax": 10.0}}, r"^dvv\.freqmax: 10\.0 must be below Nyquist"),
])
def test_rules_the_kernels_would_enforce_later_are_config_errors(
        settings: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(settings)


def test_substack_up_to_the_windows_of_a_day_is_accepted() -> None:
    assert parse_config({"processing": {"substack": 189}}).processing.substack == 189


def test_config_show_and_dry_run_refuse_maxlag_not_below_cc_len(tmp_path: Path) -> None:
    path = tmp_path / "c4.toml"
    path.write_text("[processing]\nmaxlag = 1800.0\n")
    show = run_c4("config", "show", "--config", str(path))
    assert show.returncode == 2
    assert "processing.maxlag: 1800.0 s must be shorter than cc_len" in show.stderr
    assert "Traceback" not in show.stderr
    dry = run_c4("submit", "--dry-run", "--config", str(path), "--stations", "10")
    assert dry.returncode == 2
    assert "processing.maxlag: 1800.0 s must be shorter than cc_len" in dry.stderr
    assert "Traceback" not in dry.stderr


def test_empty_config_file_is_an_error_not_all_defaults(tmp_path: Path) -> None:
    empty = tmp_path / "c4.toml"
    empty.write_text("")
    with pytest.raises(ConfigError, match=r"c4\.toml is empty .*`c4 config init > "):
        load_config(empty)
    empty.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(empty)
    out = run_c4("correlate", "--config", str(empty), "--index", "0")
    assert out.returncode == 2 and "is empty" in out.stderr


def test_config_init_redirected_writes_the_file_the_shell_created(tmp_path: Path) -> None:
    target = tmp_path / "c4.toml"
    with target.open("w") as stdout:  # what `c4 config init > c4.toml` does
        done = subprocess.run([sys.executable, "-c", "from c4.cli import main; main()",
                               "config", "init"], stdout=stdout, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert parse_config(tomllib.loads(target.read_text())) == Config()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c4.toml"]
    shown = run_c4("config", "show", "--config", str(target))
    assert shown.returncode == 0, shown.stderr


def test_scratch_default_is_temp_dir_locally_and_the_volume_on_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.delenv("AWS_BATCH_JOB_ID", raising=False)
    cfg = Config()
    assert cfg.output.scratch == ""  # unset stays unset in c4.toml, so it travels to Batch
    if not Path("/scratch").is_dir():
        assert cfg.scratch_dir() == str(Path(tempfile.gettempdir()) / "c4-scratch")
    monkeypatch.setenv("AWS_BATCH_JOB_ID", "0123-abcd")
    assert Config().scratch_dir() == "/scratch"
    assert parse_config({"batch": {"scratch_container_path": "/mnt/vol"}}).scratch_dir() == (
        "/mnt/vol")
    assert parse_config({"output": {"scratch": "/data/tmp"}}).scratch_dir() == "/data/tmp"


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
