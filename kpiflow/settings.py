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
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.errors import SettingsError
from kpiflow.rules import DEFAULT_PRESET, PRESET_NAMES

DATABASE_URL_ENV = "KPIFLOW_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")
EXCEPTION_RULES = PRESET_NAMES   # the preset registry's names (kpiflow.rules)
CHART_MODES = ("native", "image")
NATIONS = ("england", "wales", "scotland", "northern-ireland")
SMTP_PASSWORD_ENV = "KPIFLOW_SMTP_PASSWORD"
GROUP_BY = ("portfolio", "priority")


@dataclass(frozen=True)
class Rules:
    exception: str = DEFAULT_PRESET
    tolerance_percent: float = 5.0
    no_change_percent: float = 1.0
    projection_points: int = 6


@dataclass(frozen=True)
class Cycle:
    """``[cycle]``: when returns are due, when services are reminded and chased (section 18)."""

    due_working_days: int = 15
    bank_holidays: str = "england"
    remind_days_before: int = 3
    escalate_after: tuple[int, ...] = (1, 5)
    signoff: bool = False


@dataclass(frozen=True)
class Mail:
    """``[mail]``: who messages come from and the SMTP server that sends them. The password is
    never in a file: it comes from KPIFLOW_SMTP_PASSWORD."""

    sender: str = ""         # the key is "from"
    host: str = ""
    port: int = 587
    starttls: bool = True
    username: str = ""
    acknowledge: bool = False

    @property
    def password(self) -> str:
        return os.environ.get(SMTP_PASSWORD_ENV, "")


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
    cycle: Cycle = Cycle()
    mail: Mail = Mail()

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

    @property
    def chase_dir(self) -> Path:
        """Where ``kpiflow chase --eml`` writes its messages, a folder per quarter."""
        return self.outbox / "chase"

    @property
    def mail_templates_dir(self) -> Path:
        """The working folder's own message templates (each overrides the shipped one)."""
        return self.home / "doc_templates" / "mail"

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
    "cycle": {"due_working_days": int, "bank_holidays": str, "remind_days_before": int, "escalate_after": list,
              "signoff": bool},
    "mail": {"from": str, "host": str, "port": int, "starttls": bool, "username": str, "acknowledge": bool},
}
_BOOLEANS = {("cycle", "signoff"), ("mail", "starttls"), ("mail", "acknowledge"), ("report", "overview")}


def store_kind(url: str) -> str:
    """"postgresql" for a postgresql:// (or postgres://) URL, "sqlite" for none or a sqlite: one;
    anything else is a SettingsError."""
    if not url:
        return "sqlite"
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in POSTGRES_SCHEMES and url[len(scheme):].startswith("://"):
        if not unambiguous_url(url):
            raise SettingsError(f"the store URL {url[:len(scheme)]}://… cannot be read one way only (it is not "
                                "shown, as it may hold a password): write it as postgresql://user:password@host/"
                                "database, with any @ / ? # : or % in the user name or password written as %40 %2F "
                                "%3F %23 %3A %25")
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


_QUERY_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=[^&#]*")
# libpq's connection parameters: a query naming anything else is a password's tail, not a setting
_LIBPQ_KEYS = {"host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth",
               "channel_binding", "connect_timeout", "client_encoding", "options", "application_name",
               "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
               "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode", "requiressl",
               "sslnegotiation", "sslcompression", "sslcert", "sslkey", "sslkeylogfile", "sslpassword",
               "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
               "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib", "gssdelegation",
               "service", "target_session_attrs", "load_balance_hosts", "max_protocol_version",
               "min_protocol_version", "oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope"}


def unambiguous_url(url: str) -> bool:
    """Whether a postgresql:// URL can be read one way only: at most one ``@`` before its query,
    no ``/`` in the user and password, no fragment, a query of ``key=value`` pairs, and ``%``
    only as an escape. An unencoded ``@``, ``/``, ``?`` or ``#`` in a password makes it ambiguous,
    and what would be printed as the host could be part of the password."""
    rest = url.split("://", 1)[1] if "://" in url else url
    if "#" in rest or re.search(r"%(?![0-9A-Fa-f]{2})", rest) or any(c.isspace() for c in rest):
        return False
    base, _, query = rest.partition("?")
    if base.count("@") > 1:
        return False
    if "@" in base:
        userinfo = base.partition("@")[0]
        if "/" in userinfo or userinfo.count(":") > 1:
            return False
    for part in query.split("&") if query else ():
        m = _QUERY_PARAM.fullmatch(part)
        if m is None or m.group(1).lower() not in _LIBPQ_KEYS:
            return False
    return True


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: the form every message and log line uses. A
    postgresql:// URL that cannot be read one way only shows nothing after its scheme."""
    if "://" in url and not unambiguous_url(url):
        return url.split("://", 1)[0][:20] + "://…"
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
            if (isinstance(v, bool) != ((section, k) in _BOOLEANS)) or not isinstance(v, expected):
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
    refuse_linked_folders(root)
    cycle = _cycle(s["cycle"], path)
    mail = _mail(s["mail"], path)
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
        cycle=cycle,
        mail=mail,
    )


# the folders of a working folder that kpiflow writes into, by their place in it
WRITTEN_FOLDERS = ("inbox", "inbox/processed", "inbox/rejected", "inbox/.working", "outbox", "outbox/returns",
                   "outbox/feedback", "outbox/drafts", "outbox/published", "outbox/exports")


def linked_folders(home: Path) -> list[tuple[str, str]]:
    """The folders of the working folder that are links, as (place, where it points):
    kpiflow never writes through one, since the files would land outside the working folder while
    every message named a place inside it. Published quarters' folders are checked too."""
    found: list[tuple[str, str]] = []

    def check(place: str) -> None:
        path = home / place
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "somewhere else"
            found.append((place, target))

    for place in WRITTEN_FOLDERS:
        check(place)
    published = home / "outbox" / "published"
    if not found and published.is_dir():
        with suppress(OSError), os.scandir(published) as it:
            for entry in it:
                if entry.is_symlink():
                    check(f"outbox/published/{entry.name}")
    return found


def refuse_linked_folders(root: Path) -> None:
    """Refuse, before anything is done, a working folder one of whose folders is a link."""
    from kpiflow.errors import HomeError

    linked = linked_folders(root)
    if linked:
        place, target = linked[0]
        raise HomeError(f"{place} in {root} is a link (to {target}), and kpiflow never writes through a linked "
                        f"folder: the files would land outside the working folder. Replace {place} with a real "
                        "folder (move what the link points to into its place), then run this again.")


def _cycle(c: dict[str, Any], path: Path) -> Cycle:
    days = c.get("due_working_days", Cycle.due_working_days)
    if not 1 <= days <= 120:
        raise SettingsError(f"{path}: setting 'cycle.due_working_days' has a bad value {days!r}: use a whole number "
                            "of working days from 1 to 120")
    nation = c.get("bank_holidays", Cycle.bank_holidays).strip().lower()
    if nation not in NATIONS:
        raise SettingsError(f"{path}: setting 'cycle.bank_holidays' has a bad value {nation!r}: use one of "
                            + ", ".join(NATIONS))
    before = c.get("remind_days_before", Cycle.remind_days_before)
    if not 0 <= before <= days:
        raise SettingsError(f"{path}: setting 'cycle.remind_days_before' has a bad value {before!r}: use 0 to "
                            f"{days} (the working days the return is due in)")
    after = c.get("escalate_after", list(Cycle.escalate_after))
    if (len(after) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in after)
            or after[0] >= after[1]):
        raise SettingsError(f"{path}: setting 'cycle.escalate_after' has a bad value {after!r}: give two numbers of "
                            "working days after the due date, the chase first, e.g. [1, 5]")
    return Cycle(days, nation, before, (after[0], after[1]), c.get("signoff", False))


def _mail(m: dict[str, Any], path: Path) -> Mail:
    sender = m.get("from", "").strip()
    if sender:
        from email.headerregistry import Address
        from email.utils import parseaddr

        _, addr = parseaddr(sender)
        try:
            ok = bool(addr) and "@" in addr and not any(ch in sender for ch in "\r\n") and bool(
                Address(addr_spec=addr).domain)
        except (ValueError, IndexError):
            ok = False
        if not ok:
            raise SettingsError(f"{path}: setting 'mail.from' has a bad value {sender!r}: give one email address, "
                                'e.g. from = "performance@council.gov.uk"')
    host = m.get("host", "").strip()
    if any(ch.isspace() or ch in "/@" for ch in host):
        raise SettingsError(f"{path}: setting 'mail.host' has a bad value {host!r}: give the SMTP server's name, "
                            'e.g. host = "smtp.council.gov.uk"')
    if host and not sender:
        raise SettingsError(f"{path}: setting 'mail.from' is needed when 'mail.host' is set: messages need an "
                            "address they come from")
    port = m.get("port", Mail.port)
    if not 1 <= port <= 65535:
        raise SettingsError(f"{path}: setting 'mail.port' has a bad value {port!r}: use 1 to 65535 (587 for "
                            "STARTTLS, 25 for a relay)")
    username = m.get("username", "")
    if any(ch in username for ch in "\r\n"):
        raise SettingsError(f"{path}: setting 'mail.username' has a bad value: it holds a line break")
    return Mail(sender, host, port, m.get("starttls", True), username, m.get("acknowledge", False))


def current_user() -> str:
    """The login name of whoever runs kpiflow, for the audit trail; empty where it cannot be told."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
