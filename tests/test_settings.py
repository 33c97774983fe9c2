from __future__ import annotations

import re
from pathlib import Path

import pytest

from kpiflow.errors import SettingsError
from kpiflow.settings import load_settings, redact_url


def write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "kpiflow.toml").write_text(text, encoding="utf-8")


def test_defaults_without_a_settings_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert (s.council, s.rules.exception, s.rules.tolerance_percent, s.charts, s.settle_seconds) == (
        "Example Council", "below-target-or-worse-than-last-year", 5.0, "native", 2.0)
    assert s.inbox == tmp_path.resolve() / "inbox"


def test_the_overview_is_on_by_portfolio_unless_set(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert (s.overview, s.group_by) == (True, "portfolio")
    write(tmp_path, '[report]\noverview = false\ngroup_by = "priority"\n')
    s = load_settings(tmp_path)
    assert (s.overview, s.group_by) == (False, "priority")


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
    ('[report]\ngroup_by = "service"\n', "'report.group_by'"),
    ('[report]\noverview = "yes"\n', "'report.overview'"),
    ('[report]\noverview = 1\n', "'report.overview'"),
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


def test_the_store_url_from_the_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (load_settings(tmp_path).store_kind, load_settings(tmp_path).db_path) == (
        "sqlite", tmp_path.resolve() / "kpiflow.db")
    write(tmp_path, '[store]\nurl = "postgresql://kpiflow@dbhost/kpiflow"\n')
    s = load_settings(tmp_path)
    assert (s.store_kind, s.store_url) == ("postgresql", "postgresql://kpiflow@dbhost/kpiflow")
    # the environment wins, so a service can be given credentials kept out of a shared kpiflow.toml
    monkeypatch.setenv("KPIFLOW_DATABASE_URL", "postgres://svc@otherhost:5433/kpi")
    assert load_settings(tmp_path).store_url == "postgres://svc@otherhost:5433/kpi"
    monkeypatch.setenv("KPIFLOW_DATABASE_URL", "sqlite:elsewhere/k.db")
    s = load_settings(tmp_path)
    assert (s.store_kind, s.db_path) == ("sqlite", tmp_path.resolve() / "elsewhere" / "k.db")
    monkeypatch.setenv("KPIFLOW_DATABASE_URL", f"sqlite://{tmp_path}/abs.db")
    assert load_settings(tmp_path).db_path == tmp_path / "abs.db"


@pytest.mark.parametrize(("text", "env", "names"), [
    ('[store]\nurl = "mysql://u:pw@h/db"\n', "", "setting 'store.url'"),
    ('[store]\nurl = 5\n', "", "'store.url'"),
    ('[store]\nhost = "x"\n', "", "'store.host'"),
    ("", "oracle://u:pw@h/db", "KPIFLOW_DATABASE_URL"),
    ("", "postgresql:/no-slashes", "KPIFLOW_DATABASE_URL"),
])
def test_a_bad_store_url_names_where_it_came_from_and_never_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: str, names: str) -> None:
    write(tmp_path, text)
    if env:
        monkeypatch.setenv("KPIFLOW_DATABASE_URL", env)
    with pytest.raises(SettingsError, match=re.escape(names)) as info:
        load_settings(tmp_path)
    assert "pw@" not in str(info.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://kpiflow:s3cret@dbhost/kpiflow", "postgresql://kpiflow:***@dbhost/kpiflow"),
    ("postgresql://kpiflow@dbhost:5432/kpiflow", "postgresql://kpiflow@dbhost:5432/kpiflow"),
    ("postgresql://dbhost/kpiflow?user=k&password=s3cret&sslmode=require",
     "postgresql://dbhost/kpiflow?user=k&password=***&sslmode=require"),
    ("postgresql://:s3cret@dbhost/kpiflow", "postgresql://:***@dbhost/kpiflow"),
])
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
