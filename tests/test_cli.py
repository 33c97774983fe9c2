"""The command line, run as a user runs it: exit codes, messages, files moved, JSON."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import run_kpiflow

from kpiflow.model import Catalogue
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent


def registered_commands() -> list[tuple[str, object]]:
    """Every command the Typer app registers, groups walked, as ("catalogue check", click command)."""
    import typer.main

    from kpiflow.cli import app

    out: list[tuple[str, object]] = []

    def walk(prefix: str, cmd: object) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                walk(f"{prefix} {name}".strip(), sub)
        else:
            out.append((prefix, cmd))

    walk("", typer.main.get_command(app))
    return out


def kpiflow(*args: str, home: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """kpiflow in this process (tests/helpers.py), as a user would run it."""
    return run_kpiflow(*args, home=home, cwd=cwd or home or ROOT)


def kpiflow_process(*args: str, home: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """kpiflow in a process of its own: for start-up and the exit codes of a real process."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("KPIFLOW_HOME", None)
    if home:
        env["KPIFLOW_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "kpiflow", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or home or ROOT, timeout=300)


def test_help_lists_every_command_and_the_readme_documents_them() -> None:
    commands = registered_commands()
    assert len(commands) >= 14
    r = kpiflow("--help")
    assert r.returncode == 0
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, cmd in commands:
        assert re.search(rf"^\s+{name.split()[0]}\b", r.stdout, re.M), name
        assert f"kpiflow {name}" in readme, name
        assert re.search(r"^\s*Example: kpiflow \S", getattr(cmd, "help", "") or "", re.M), f"{name}: no Example: line"
        sub = kpiflow(*name.split(), "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout, name


def test_ingest_rejects_text_in_a_number_cell(home: Path, settings: Settings, store: Store, filled: Path,
                                              edit: Callable[..., Path]) -> None:
    store.close()
    bad = edit(filled, {"Return!F7": "n/a"})
    dropped = settings.inbox / bad.name
    shutil.copyfile(bad, dropped)
    with open_store(settings) as s:
        before = s.query("SELECT COUNT(*) FROM observations")[0][0]
    r = kpiflow("ingest", home=home)
    assert r.returncode == 1
    assert "Return!F7  error  not-a-number  CS01" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    assert (settings.rejected / bad.name).exists() and not dropped.exists()
    with open_store(settings) as s:
        assert s.query("SELECT COUNT(*) FROM observations")[0][0] == before


def test_validate_json_is_the_librarys_result(home: Path, filled: Path, catalogue: Catalogue,
                                              edit: Callable[..., Path]) -> None:
    from kpiflow.pipeline import validate_returns
    from kpiflow.settings import load_settings

    bad = edit(filled, {"Return!F7": "lots", "Return!A9": "ZZ1"})
    r = kpiflow("validate", "--json", str(bad), home=home)
    assert r.returncode == 1
    assert json.loads(r.stdout) == validate_returns(load_settings(home), [bad]).to_dict()
    ok = kpiflow("validate", str(filled), home=home)
    # the warnings: figures in the example's service response that kpiflow does not hold
    assert ok.returncode == 0 and "0 errors, 2 warnings" in ok.stdout


def test_exit_2_when_the_command_cannot_run(tmp_path: Path, home: Path) -> None:
    r = kpiflow_process("validate", str(tmp_path / "nope.xlsx"), home=home)
    assert r.returncode == 2 and r.stderr.startswith("Error: no such file")
    r = kpiflow_process("report", "--quarter", "Q7 2017", home=home)
    assert r.returncode == 2 and "--quarter" in r.stderr
    (home / "kpiflow.toml").write_text('colour = "red"\n', encoding="utf-8")
    r = kpiflow_process("status", "--quarter", "2017/18 Q2", home=home)
    assert r.returncode == 2 and "unknown setting 'colour'" in r.stderr
    (tmp_path / "empty").mkdir()
    r = kpiflow_process("issue", "--quarter", "2017/18 Q2", home=tmp_path / "empty")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = kpiflow_process("frobnicate")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_demo_command_prints_the_report(tmp_path: Path) -> None:
    r = kpiflow("demo", "--home", str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    report = tmp_path / "d" / "outbox" / "drafts" / "Appendix 6(b) - Exception Reports (Q2 2017-18).docx"
    assert f"Report: {report}" in r.stdout
    assert report.exists()
    # running it again starts afresh rather than piling up
    r = kpiflow("demo", "--home", str(tmp_path / "d"))
    assert r.returncode == 0
    assert [p.name for p in (tmp_path / "d" / "outbox" / "drafts").iterdir()] == [report.name]
    # and it never clears a folder that is not a kpiflow folder
    other = tmp_path / "mine"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    r = kpiflow("demo", "--home", str(other))
    assert r.returncode == 2 and (other / "precious.txt").exists()


def test_status_history_explain_after_the_demo(tmp_path: Path) -> None:
    home = tmp_path / "d"
    assert kpiflow("demo", "--home", str(home)).returncode == 0
    st = json.loads(kpiflow("status", "--quarter", "2017/18 Q2", "--json", home=home).stdout)
    assert st["services"][0]["state"] == "accepted"
    assert [e["id"] for e in st["exceptions"]] == ["CS01", "CS02", "CS03"]
    h = kpiflow("history", "--service", "Children's Services", home=home)
    assert "accepted" in h.stdout and "Children's Services_2017-18_Q2.xlsx" in h.stdout
    ex = kpiflow("explain", "--quarter", "2017/18 Q2", "--indicator", "CS02", home=home)
    assert "exception: worse than the same quarter last year (514 against 781)" in ex.stdout


def test_init_catalogue_and_template_check(tmp_path: Path) -> None:
    home = tmp_path / "new"
    r = kpiflow("init", str(home))
    assert r.returncode == 0
    assert (home / "kpiflow.toml").exists() and (home / "inbox" / "processed").is_dir()
    assert kpiflow("catalogue", "check", home=home).returncode == 0
    assert kpiflow("template", "check", home=home).returncode == 0


@pytest.mark.parametrize("arg", ["--help"])
def test_help_is_fast_because_heavy_libraries_load_lazily(arg: str) -> None:
    code = ("import sys, kpiflow.cli; heavy = {'openpyxl', 'docx', 'docxtpl', 'pptx', 'watchdog', 'lxml'}; "
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


PANDAS_PROBE = """
import sys
from kpiflow.cli import app
try:
    app(args=sys.argv[1:], standalone_mode=False)
except BaseException:
    pass
print(sorted({'pandas', 'pyarrow'} & {m.split('.')[0] for m in sys.modules}))
"""


def test_pandas_is_imported_only_by_the_commands_that_use_it(tmp_path: Path) -> None:
    home = tmp_path / "d"
    assert kpiflow("demo", "--home", str(home)).returncode == 0
    processed = next((home / "inbox" / "processed").glob("*.xlsx"))
    env = {**os.environ, "KPIFLOW_HOME": str(home)}

    def heavy(*args: str) -> str:
        r = subprocess.run([sys.executable, "-c", PANDAS_PROBE, *args], capture_output=True, text=True, env=env,
                           cwd=home, timeout=300)
        return r.stdout.strip().splitlines()[-1]

    for args in (["--help"], ["validate", str(processed)], ["report", "--quarter", "2017/18 Q2"], ["watch", "--once"],
                 ["status", "--quarter", "2017/18 Q2"], ["comparators", "import", "--help"]):
        assert heavy(*args) == "[]", args
    # and the probe does see it where it is used
    assert heavy("export", "--format", "parquet", "--out", str(tmp_path / "h.parquet")) == "['pandas', 'pyarrow']"


def test_every_read_only_json_is_the_library_functions_to_dict(tmp_path: Path) -> None:
    """--json prints the library result's to_dict(), nothing assembled in the command layer."""
    from kpiflow.assess import explain
    from kpiflow.catalogue import check_catalogue
    from kpiflow.demo import run_demo
    from kpiflow.periods import parse_period
    from kpiflow.pipeline import validate_returns
    from kpiflow.settings import load_settings
    from kpiflow.status import audit_trail, status

    demo = run_demo(tmp_path / "d")
    settings = load_settings(demo.home)
    q = parse_period("2017/18 Q2")
    processed = next((demo.home / "inbox" / "processed").glob("*.xlsx"))
    cases = [
        (["catalogue", "check"], check_catalogue(settings).to_dict()),
        (["status", "--quarter", q.label], status(settings, q).to_dict()),
        (["history", "--service", "Children's Services"], audit_trail(settings, "Children's Services").to_dict()),
        (["history", "--indicator", "CS01"], audit_trail(settings, indicator="CS01").to_dict()),
        (["explain", "--quarter", q.label], explain(settings, q).to_dict()),
        (["explain", "--quarter", q.label, "--indicator", "CS02"], explain(settings, q, "CS02").to_dict()),
        (["validate", str(processed)], validate_returns(settings, [processed]).to_dict()),
    ]
    for args, expected in cases:
        r = kpiflow(*args, "--json", home=demo.home)
        assert r.returncode in (0, 1), (args, r.stderr)
        assert json.loads(r.stdout) == json.loads(json.dumps(expected, default=str)), args


def test_debug_before_the_command_shows_the_traceback_and_leaves_the_arguments_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from kpiflow.cli import main
    from kpiflow.errors import KpiflowError

    missing = str(tmp_path / "missing.xlsx")
    argv = ["kpiflow", "validate", "--home", str(tmp_path), missing]
    monkeypatch.setattr(sys, "argv", list(argv))
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("Error: no such file")
    argv.insert(1, "--debug")
    monkeypatch.setattr(sys, "argv", list(argv))
    with pytest.raises(KpiflowError, match="no such file"):
        main()
    assert sys.argv == argv
    # the option belongs to kpiflow, not to a command
    monkeypatch.setattr(sys, "argv", ["kpiflow", "validate", missing, "--debug"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2 and "--debug" in capsys.readouterr().err


def test_a_command_run_alone_has_the_whole_apps_help_options_and_errors(tmp_path: Path) -> None:
    """kpiflow builds only the command it is asked for: what a user sees is the same."""
    from typer.testing import CliRunner

    from kpiflow.cli import app, app_for

    runner = CliRunner()
    for args in (["report", "--help"], ["publish", "--help"], ["export", "--help"], ["report"],
                 ["--debug", "report", "--help"], ["report", "--quarter", "2017/18 Q9", "--home", str(tmp_path)]):
        alone, whole = runner.invoke(app_for(args), args), runner.invoke(app, args)
        assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args
    assert app_for(["report"]) is not app and app_for(["catalogue", "check"]) is app and app_for([]) is app
    assert app_for(["--debug"]) is app and app_for(["no-such-command"]) is app
    r = kpiflow_process("report", home=tmp_path)
    assert r.returncode == 2 and "Usage: python -m kpiflow report [OPTIONS]" in r.stderr
    assert "Missing option '--quarter'" in r.stderr
    r = kpiflow_process("--debug", "report", "--help", home=tmp_path)
    assert r.returncode == 0 and "--keep-edits" in r.stdout
