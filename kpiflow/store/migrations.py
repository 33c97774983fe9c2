"""The numbered migrations that build the store's schema, shared by SQLite and PostgreSQL.

Each is recorded in ``schema_migrations`` in the same transaction that applies it. A shipped
migration is never edited: a change of schema is a new one at the end. The SQL is written once;
the few words the two databases spell differently are tokens that :func:`render` fills in:

``{pk}``    an integer key the database numbers itself (SQLite's rowid; a PostgreSQL identity
            column, which still takes given values, so a copied history keeps its ids)
``{float}`` an 8-byte float (SQLite's REAL; PostgreSQL's REAL is 4 bytes, so DOUBLE PRECISION)
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

from kpiflow.errors import KpiflowError

MIGRATIONS: list[tuple[str, str]] = [
    ("initial", """
        CREATE TABLE submissions (
            id {pk},
            file_name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            service TEXT NOT NULL DEFAULT '',
            quarter TEXT NOT NULL DEFAULT '',
            completed_by TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            date_completed TEXT NOT NULL DEFAULT '',
            received_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'duplicate')),
            errors INTEGER NOT NULL DEFAULT 0,
            warnings INTEGER NOT NULL DEFAULT 0,
            problems TEXT NOT NULL DEFAULT '[]',
            kept_as TEXT NOT NULL DEFAULT '',
            superseded_by INTEGER REFERENCES submissions(id)
        );
        CREATE INDEX submissions_sha ON submissions(sha256);
        CREATE INDEX submissions_service_quarter ON submissions(service, quarter);
        CREATE TABLE observations (
            id {pk},
            indicator_id TEXT NOT NULL,
            period TEXT NOT NULL,
            number {float}, rate {float}, statneigh {float}, england {float},
            source TEXT NOT NULL,
            submission_id INTEGER REFERENCES submissions(id),
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX observations_key ON observations(indicator_id, period, id);
        CREATE TABLE texts (
            id {pk},
            indicator_id TEXT NOT NULL,
            quarter TEXT NOT NULL,
            commentary TEXT NOT NULL DEFAULT '',
            response TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL,
            submission_id INTEGER REFERENCES submissions(id),
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX texts_key ON texts(indicator_id, quarter, id);
        CREATE TABLE breakdowns (
            id {pk},
            indicator_id TEXT NOT NULL,
            period TEXT NOT NULL,
            category TEXT NOT NULL,
            number {float} NOT NULL,
            position INTEGER NOT NULL,
            batch INTEGER NOT NULL,
            source TEXT NOT NULL,
            submission_id INTEGER REFERENCES submissions(id),
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX breakdowns_key ON breakdowns(indicator_id, period, batch);
        CREATE TABLE issued (
            id {pk},
            service TEXT NOT NULL,
            quarter TEXT NOT NULL,
            file_name TEXT NOT NULL,
            issued_at TEXT NOT NULL
        );
        CREATE TABLE quarter_events (
            id {pk},
            quarter TEXT NOT NULL,
            event TEXT NOT NULL CHECK (event IN ('published', 'reopened')),
            at TEXT NOT NULL,
            by TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        );
    """),
    ("claims-and-feedback", """
        ALTER TABLE submissions ADD COLUMN claim TEXT;
        ALTER TABLE submissions ADD COLUMN feedback TEXT NOT NULL DEFAULT '';
        CREATE UNIQUE INDEX submissions_claim ON submissions(claim);
        CREATE INDEX submissions_kept_as ON submissions(kept_as);
        CREATE INDEX submissions_feedback ON submissions(feedback);
    """),
    ("returns-cycle", """
        CREATE TABLE messages (
            id {pk},
            msg_key TEXT NOT NULL,
            message_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('reminder', 'overdue', 'escalation', 'signoff-request',
                                               'acknowledgement', 'send-back')),
            service TEXT NOT NULL DEFAULT '',
            quarter TEXT NOT NULL DEFAULT '',
            submission_id INTEGER REFERENCES submissions(id),
            recipients TEXT NOT NULL DEFAULT '{}',
            subject TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'dropped')),
            queued_at TEXT NOT NULL,
            sent_at TEXT,
            claimed_by TEXT,
            claimed_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT ''
        );
        CREATE UNIQUE INDEX messages_key ON messages(msg_key);
        CREATE UNIQUE INDEX messages_message_id ON messages(message_id);
        CREATE INDEX messages_service_quarter ON messages(service, quarter);
        CREATE INDEX messages_state ON messages(state);
        CREATE TABLE signoffs (
            id {pk},
            service TEXT NOT NULL,
            quarter TEXT NOT NULL,
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            event TEXT NOT NULL CHECK (event IN ('signed-off', 'sent-back')),
            by TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            how TEXT NOT NULL CHECK (how IN ('recorded', 'attested')),
            signed_on TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            recorded_by TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX signoffs_service_quarter ON signoffs(service, quarter, id);
    """),
    ("history-imports", """
        CREATE TABLE history_imports (
            id {pk},
            file_name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            rows_read INTEGER NOT NULL,
            rows_written INTEGER NOT NULL,
            imported_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX history_imports_sha ON history_imports(sha256);
    """),
]

#: the tables a copy of the history carries, parents before children
HISTORY_TABLES = ("submissions", "observations", "texts", "breakdowns", "issued", "quarter_events", "messages",
                  "signoffs", "history_imports")

_WORDS = {
    "sqlite": {"pk": "INTEGER PRIMARY KEY", "float": "REAL"},
    "postgresql": {"pk": "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "float": "DOUBLE PRECISION"},
}
_TOKEN = re.compile(r"\{(pk|float)\}")


def render(sql: str, kind: str) -> str:
    """A migration's SQL for one kind of database."""
    words = _WORDS[kind]
    return _TOKEN.sub(lambda m: words[m.group(1)], sql)


def statements(sql: str) -> Iterator[str]:
    """Split a migration into statements, keeping a ``;`` inside a string or trigger body."""
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                yield buf.strip()
            buf = ""
    if buf.strip(" \t\r\n;"):
        raise KpiflowError(f"an incomplete statement in a migration: {buf.strip()[:80]}")
