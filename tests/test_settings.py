from __future__ import annotations

from pathlib import Path

import pytest

from kpiflow.errors import SettingsError
from kpiflow.settings import load_settings


def write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "kpiflow.toml").write_text(text, encoding="utf-8")


def test_defaults_without_a_settings_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert (s.council, s.rules.exception, s.rules.tolerance_percent, s.charts, s.settle_seconds) == (
        "Example Council", "below-target-or-worse-than-last-year", 5.0, "native", 2.0)
    assert s.inbox == tmp_path.resolve() / "inbox"


def test_the_commented_file_init_writes_is_valid(home: Path) -> None:
    assert load_settings(home).council == "Blackpool Council"


def test_home_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "h", 'council = "Env Council"\n')
    monkeypatch.setenv("KPIFLOW_HOME", str(tmp_path / "h"))
    assert load_settings().council == "Env Council"


@pytest.mark.parametrize(("text", "names"), [
    ('colour = "red"\n', "'colour'"),
    ('[rules]\nexception = "amber"\n', "'rules.exception'"),
    ("[rules]\ntolerance_percent = \"five\"\n", "'rules.tolerance_percent'"),
    ("[rules]\nsurprise = 1\n", "'rules.surprise'"),
    ('[report]\ncharts = "3d"\n', "'report.charts'"),
    ("[watch]\nsettle_seconds = -1\n", "'watch.settle_seconds'"),
    ('[paths]\ndatabase = "../../elsewhere.db"\n', "'paths.database'"),
    ("council = \n", "cannot read settings"),
])
def test_a_bad_setting_names_its_key(tmp_path: Path, text: str, names: str) -> None:
    write(tmp_path, text)
    with pytest.raises(SettingsError, match=names.replace(".", r"\.")):
        load_settings(tmp_path)


@pytest.mark.parametrize(("text", "expected"), [('la_code = "890"\n', "890"), ("la_code = 890\n", "890"),
                                                ('la_code = " 890 "\n', "890"), ("", "")])
def test_la_code_is_the_councils_three_digit_dfe_code(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, text)
    assert load_settings(tmp_path).la_code == expected


@pytest.mark.parametrize("value", ['"E06000009"', '"89"', '"Blackpool"', "true"])
def test_a_bad_la_code_names_the_key(tmp_path: Path, value: str) -> None:
    write(tmp_path, f"la_code = {value}\n")
    with pytest.raises(SettingsError, match="'la_code'"):
        load_settings(tmp_path)
