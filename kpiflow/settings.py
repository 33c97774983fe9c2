"""The working folder and its kpiflow.toml: one frozen Settings per run.

The folder is ``--home DIR``, else ``KPIFLOW_HOME``, else the current directory.
An unknown key or a bad value is a SettingsError naming the key.

The store is SQLite (``kpiflow.db`` in the folder) unless ``KPIFLOW_DATABASE_URL`` or ``[store] url``
names another: ``postgresql://user@host/db`` for a PostgreSQL server, ``sqlite:PATH`` for another
SQLite file. The environment wins, so a service can be given credentials without writing them into
a kpiflow.toml on a shared drive. A URL is never shown with its password (:func:`redact_url`).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.errors import SettingsError
from kpiflow.rules import DEFAULT_PRESET, PRESET_NAMES

DATABASE_URL_ENV = "KPIFLOW_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")
EXCEPTION_RULES = PRESET_NAMES   # the preset registry's names (kpiflow.rules)
CHART_MODES = ("native", "image")
GROUP_BY = ("portfolio", "priority")


@dataclass(frozen=True)
class Rules:
    exception: str = DEFAULT_PRESET
    tolerance_percent: float = 5.0
    no_change_percent: float = 1.0
    projection_points: int = 6


@dataclass(frozen=True)
class Settings:
    home: Path
    council: str = "Example Council"
    la_code: str = ""              # the council's DfE code (old_la_code), for comparator imports
    rules: Rules = Rules()
    charts: str = "native"
    overview: bool = True          # "Performance at a glance" before the exceptions (PRODUCT.md section 19)
    group_by: str = "portfolio"    # the overview's groups: "portfolio" or "priority"
    settle_seconds: float = 2.0
    rescan_seconds: float = 30.0
    catalogue_rel: str = "workbook_templates/catalogue.xlsx"
    template_rel: str = "doc_templates/appendix_6b.docx"
    database_rel: str = "kpiflow.db"
    store_url: str = ""          # "" for the SQLite file database_rel; else a postgresql:// or sqlite: URL

    @property
    def store_kind(self) -> str:
        """"postgresql" or "sqlite"."""
        return store_kind(self.store_url)

    @property
    def catalogue_path(self) -> Path:
        return self.home / self.catalogue_rel

    @property
    def template_path(self) -> Path:
        return self.home / self.template_rel

    @property
    def db_path(self) -> Path:
        """The SQLite file (the default store, or the one a ``sqlite:`` URL names)."""
        if self.store_url and self.store_kind == "sqlite":
            return sqlite_path(self.store_url, self.home)
        return self.home / self.database_rel

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def processed(self) -> Path:
        return self.inbox / "processed"

    @property
    def rejected(self) -> Path:
        return self.inbox / "rejected"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def returns_dir(self) -> Path:
        return self.outbox / "returns"

    @property
    def feedback_dir(self) -> Path:
        return self.outbox / "feedback"

    @property
    def drafts_dir(self) -> Path:
        return self.outbox / "drafts"

    @property
    def published_dir(self) -> Path:
        return self.outbox / "published"

    @property
    def work_dir(self) -> Path:
        """Where a file is held while one process works on it (claimed by rename)."""
        return self.inbox / ".working"

    def ensure_folders(self) -> None:
        for d in (self.inbox, self.processed, self.rejected, self.returns_dir, self.feedback_dir,
                  self.drafts_dir, self.published_dir, self.home / "workbook_templates",
                  self.home / "doc_templates"):
            d.mkdir(parents=True, exist_ok=True)


# key -> (section, type, check) ; sections "" (top level), "rules", "report", "watch", "paths"
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "": {"council": str, "la_code": (str, int)},
    "rules": {"exception": str, "tolerance_percent": (int, float), "no_change_percent": (int, float),
              "projection_points": int},
    "report": {"charts": str, "overview": bool, "group_by": str},
    "watch": {"settle_seconds": (int, float), "rescan_seconds": (int, float)},
    "paths": {"catalogue": str, "template": str, "database": str},
    "store": {"url": str},
}


def store_kind(url: str) -> str:
    """"postgresql" for a postgresql:// (or postgres://) URL, "sqlite" for none or a sqlite: one;
    anything else is a SettingsError."""
    if not url:
        return "sqlite"
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in POSTGRES_SCHEMES and url[len(scheme):].startswith("://"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise SettingsError(f"the store URL {redact_url(url)!r} is not one kpiflow knows: use "
                        "postgresql://user@host/database for PostgreSQL, or sqlite:PATH for a SQLite file")


def sqlite_path(url: str, home: Path) -> Path:
    """The file a ``sqlite:PATH`` URL names (``sqlite:///abs/k.db`` too), relative to ``home``."""
    rest = url.split(":", 1)[1]
    if rest.startswith("//"):
        rest = rest[2:]
    if not rest:
        raise SettingsError(f"the store URL {url!r} names no file: use sqlite:PATH")
    return (home / Path(rest).expanduser()).resolve()


_PASSWORD_IN_NETLOC = re.compile(r"(://[^/@:?#]*):[^/@]*@")
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&\s]*")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: the form every message and log line uses."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD_IN_NETLOC.sub(r"\1:***@", url))


def resolve_home(home: str | Path | None = None) -> Path:
    if home is None:
        home = os.environ.get("KPIFLOW_HOME") or Path.cwd()
    return Path(home).expanduser().resolve()


def _check(data: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {s: {} for s in _SCHEMA}
    for key, value in data.items():
        if isinstance(value, dict) and key in _SCHEMA and key:
            section = key
            items = value.items()
        elif key in _SCHEMA[""]:
            section, items = "", [(key, value)]  # type: ignore[assignment]
        else:
            raise SettingsError(f"{path}: unknown setting '{key}'")
        for k, v in items:
            name = f"{section}.{k}" if section else k
            expected = _SCHEMA[section].get(k)
            if expected is None:
                raise SettingsError(f"{path}: unknown setting '{name}'")
            if (isinstance(v, bool) and expected is not bool) or not isinstance(v, expected):
                raise SettingsError(f"{path}: setting '{name}' has a bad value {v!r}")
            out[section][k] = v
    return out


def load_settings(home: str | Path | None = None) -> Settings:
    root = resolve_home(home)
    path = root / "kpiflow.toml"
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read settings: {exc}") from exc
    s = _check(raw, path)
    r = s["rules"]
    rules = Rules(
        exception=r.get("exception", Rules.exception),
        tolerance_percent=float(r.get("tolerance_percent", Rules.tolerance_percent)),
        no_change_percent=float(r.get("no_change_percent", Rules.no_change_percent)),
        projection_points=int(r.get("projection_points", Rules.projection_points)),
    )
    if rules.exception not in EXCEPTION_RULES:
        raise SettingsError(
            f"{path}: setting 'rules.exception' has a bad value {rules.exception!r}: use one of "
            + ", ".join(EXCEPTION_RULES)
        )
    for name, val in (("rules.tolerance_percent", rules.tolerance_percent),
                      ("rules.no_change_percent", rules.no_change_percent)):
        if not 0 <= val <= 100:
            raise SettingsError(f"{path}: setting '{name}' has a bad value {val!r}: use 0 to 100")
    if rules.projection_points < 3:
        raise SettingsError(f"{path}: setting 'rules.projection_points' has a bad value: use 3 or more")
    la_code = str(s[""].get("la_code", "")).strip()
    if la_code and not re.fullmatch(r"\d{3}", la_code):
        raise SettingsError(f"{path}: setting 'la_code' has a bad value {la_code!r}: use the council's three-digit "
                            'DfE code (old_la_code in the Department\'s files), e.g. la_code = "890" for Blackpool')
    charts = s["report"].get("charts", "native")
    if charts not in CHART_MODES:
        raise SettingsError(f"{path}: setting 'report.charts' has a bad value {charts!r}: use native or image")
    group_by = s["report"].get("group_by", "portfolio")
    if group_by not in GROUP_BY:
        raise SettingsError(f"{path}: setting 'report.group_by' has a bad value {group_by!r}: use portfolio or priority")
    w = s["watch"]
    for name in ("settle_seconds", "rescan_seconds"):
        if name in w and w[name] <= 0:
            raise SettingsError(f"{path}: setting 'watch.{name}' has a bad value: use a positive number")
    url = os.environ.get(DATABASE_URL_ENV, "").strip() or s["store"].get("url", "").strip()
    try:
        store_kind(url)
    except SettingsError as exc:
        where = DATABASE_URL_ENV if os.environ.get(DATABASE_URL_ENV, "").strip() else f"{path}: setting 'store.url'"
        raise SettingsError(f"{where}: {exc}") from None
    p = s["paths"]
    for name, rel in p.items():
        target = (root / rel).resolve()
        if not target.is_relative_to(root):
            raise SettingsError(f"{path}: setting 'paths.{name}' must stay inside {root}")
    return Settings(
        home=root,
        council=s[""].get("council", "Example Council"),
        la_code=la_code,
        rules=rules,
        charts=charts,
        overview=bool(s["report"].get("overview", True)),
        group_by=group_by,
        settle_seconds=float(w.get("settle_seconds", 2.0)),
        rescan_seconds=float(w.get("rescan_seconds", 30.0)),
        catalogue_rel=p.get("catalogue", Settings.catalogue_rel),
        template_rel=p.get("template", Settings.template_rel),
        database_rel=p.get("database", Settings.database_rel),
        store_url=url,
    )


def current_user() -> str:
    """The login name of whoever runs kpiflow, for the audit trail; empty where it cannot be told."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
