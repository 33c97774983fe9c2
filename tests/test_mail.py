"""Sending (kpiflow/mail.py) against a real SMTP server on a local port (aiosmtpd): delivery,
recipients, subjects, attachments, once-only across reruns and a kill, the server's failures,
STARTTLS with a self-signed certificate, and acknowledgements queued with the submission."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cycle_helpers import ADULTS, HOUSING, cli, fill, set_up
from smtp_server import LocalController, Recorder, refusing_port, server_tls, start, tls_files

from kpiflow.cycle import chase
from kpiflow.demo import SERVICE
from kpiflow.issue import issue
from kpiflow.periods import parse_period
from kpiflow.pipeline import ingest_returns
from kpiflow.settings import load_settings
from kpiflow.store import open_store

Q = parse_period("2017/18 Q2")
LATE = dt.date(2017, 10, 24)          # a working day after the due date (Fri 20 Oct 2017): the chase stage
BAD_HS = {"HS01": {"Number": "n/a"}}


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, LocalController]]:
    rec = Recorder()
    c = start(rec)
    try:
        yield rec, c
    finally:
        c.stop()


def _home(home: Path, port: int, extra: str = "") -> Path:
    set_up(home, host="127.0.0.1", port=port, extra=extra)
    return home


def _sent(home: Path) -> list[tuple[str, str, str]]:
    with open_store(load_settings(home)) as store:
        return [(m.service, m.kind, m.state) for m in store.messages()]


@pytest.mark.backends
def test_chase_send_delivers_each_message_once_ever(home: Path, backend: str,
                                                    smtp: tuple[Recorder, LocalController]) -> None:
    rec, c = smtp
    _home(home, c.port)
    settings = load_settings(home)
    issue(settings, Q)
    code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
    assert code == 0, out
    assert len(rec.received) == 3
    by_subject = {m["Subject"]: (r, m) for r, m in zip(rec.received, rec.messages, strict=True)}
    r, m = by_subject["Overdue: performance return for Q2 2017/18 due Friday 20 October 2017 (Housing)"]
    assert sorted(r.rcpt_tos) == ["hana@council.example", "harry@council.example", "housing-team@council.example"]
    assert m["To"] == "hana@council.example, housing-team@council.example" and m["Cc"] == "harry@council.example"
    assert m["From"] == "performance@council.example" and r.mail_from == "performance@council.example"
    assert [p.get_filename() for p in m.iter_attachments()] == ["Housing_2017-18_Q2.xlsx"]
    att = next(m.iter_attachments()).get_content()
    assert att == (home / "outbox/returns/Housing_2017-18_Q2.xlsx").read_bytes()
    assert m.get_body(("plain",)) is not None and m.get_body(("html",)) is not None
    with open_store(settings) as store:
        stored = {x.service: x for x in store.messages()}
    assert stored[HOUSING].message_id == m["Message-ID"] and stored[HOUSING].state == "sent"
    assert stored[HOUSING].to == ("hana@council.example", "housing-team@council.example")
    # the same stage again: nothing; a later stage: just that
    code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-25", "--send", "--home", str(home))
    assert code == 0 and len(rec.received) == 3
    assert "is not sent again" in out
    cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-30", "--send", "--home", str(home))
    assert len(rec.received) == 6
    assert all(m["Subject"].startswith("Escalation: ") for m in rec.messages[3:])
    assert sorted(rec.received[-1].rcpt_tos + rec.received[-2].rcpt_tos + rec.received[-3].rcpt_tos).count(
        "dana@council.example") == 3
    cli("chase", "-q", "2017/18 Q2", "--on", "2017-11-30", "--send", "--home", str(home))
    assert len(rec.received) == 6
    hist = cli("history", "--service", HOUSING, "--home", str(home))[1]
    assert "overdue to hana@council.example, housing-team@council.example, cc harry@council.example" in hist
    assert stored[HOUSING].message_id in hist


def test_a_refused_connection_exits_1_naming_the_server_and_records_nothing(home: Path) -> None:
    port = refusing_port()
    _home(home, port)
    code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
    assert code == 1 and f"127.0.0.1:{port}" in out and "could not be reached" in out, out
    assert "Traceback" not in out
    assert _sent(home) == [(s, "overdue", "queued") for s in (SERVICE, HOUSING, ADULTS)]


@pytest.mark.backends
def test_4xx_and_5xx_mid_batch_leave_just_those_for_the_rerun(home: Path, backend: str,
                                                               smtp: tuple[Recorder, LocalController]) -> None:
    rec, c = smtp
    rec.data_replies = {1: "451 4.3.0 Try again later", 2: "554 5.7.1 Rejected by policy"}
    _home(home, c.port)
    code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
    assert code == 1, out
    assert "451" in out and "554" in out
    assert len(rec.received) == 1
    states = _sent(home)
    assert [s for s in states if s[2] == "sent"] == [(SERVICE, "overdue", "sent")]
    assert sorted(s[0] for s in states if s[2] == "queued") == sorted([HOUSING, ADULTS])
    with open_store(load_settings(home)) as store:
        queued = {m.service: m for m in store.messages(state="queued")}
    code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
    assert code == 0, out
    assert len(rec.received) == 3
    assert sorted(m["Message-ID"] for m in rec.messages[1:]) == sorted(m.message_id for m in queued.values())
    assert all(s[2] == "sent" for s in _sent(home))


def test_an_authentication_failure_names_the_server_never_the_password(home: Path, monkeypatch: pytest.MonkeyPatch
                                                                        ) -> None:
    rec = Recorder()
    c = start(rec, auth=True)
    try:
        set_up(home, host="127.0.0.1", port=c.port, username="kpi")
        monkeypatch.setenv("KPIFLOW_SMTP_PASSWORD", "wrong-Secret-123")
        code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
        assert code == 1 and f"127.0.0.1:{c.port}" in out and "refused the login for kpi" in out, out
        assert "wrong-Secret-123" not in out
        assert set(rec.logins) == {("kpi", "wrong-Secret-123")} and rec.received == []   # smtplib tries PLAIN, then LOGIN
        assert {s[2] for s in _sent(home)} == {"queued"}
        monkeypatch.setenv("KPIFLOW_SMTP_PASSWORD", rec.password)
        code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
        assert code == 0, out
        assert len(rec.received) == 3 and rec.password not in out
    finally:
        c.stop()


def test_starttls_with_a_self_signed_certificate(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tls_files(tmp_path / "tls")
    rec = Recorder()
    c = start(rec, tls=server_tls(cert, key), auth=True)
    try:
        set_up(home, host="127.0.0.1", port=c.port, starttls=True, username="kpi")
        monkeypatch.setenv("KPIFLOW_SMTP_PASSWORD", rec.password)
        # not trusted: refused before anything is sent, and before the password goes over the wire
        code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
        assert code == 1 and "certificate" in out and f"127.0.0.1:{c.port}" in out, out
        assert rec.logins == [] and rec.received == []
        # trusted (as a council would install its own CA): sent, logged in over TLS
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
        assert code == 0, out
        assert set(rec.logins) == {("kpi", rec.password)} and len(rec.received) == 3
    finally:
        c.stop()


def test_a_server_without_starttls_is_refused_when_starttls_is_on(home: Path,
                                                                   smtp: tuple[Recorder, LocalController]) -> None:
    rec, c = smtp
    set_up(home, host="127.0.0.1", port=c.port, starttls=True)
    code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--send", "--home", str(home))
    assert code == 1 and "does not offer STARTTLS" in out and rec.received == []


KILLER = textwrap.dedent("""
    import os, signal, sys, datetime as dt
    from kpiflow.cycle import chase
    from kpiflow.periods import parse_period
    from kpiflow.settings import load_settings
    n = [0]
    def before_record(m):
        n[0] += 1
        if n[0] == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    chase(load_settings(sys.argv[1]), parse_period("2017/18 Q2"), dt.date(2017, 10, 24), "send", before_record)
""")


@pytest.mark.backends
def test_killed_between_sending_and_recording_repeats_only_that_message(home: Path, backend: str,
                                                                        smtp: tuple[Recorder, LocalController]) -> None:
    rec, c = smtp
    _home(home, c.port)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    p = subprocess.run([sys.executable, "-c", KILLER, str(home)], env=env, capture_output=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert len(rec.received) == 2
    states = _sent(home)
    assert [s[2] for s in states].count("sent") == 1
    in_flight = rec.messages[1]["Message-ID"]
    chase(load_settings(home), Q, LATE, "send")
    ids = [m["Message-ID"] for m in rec.messages]
    assert len(ids) == 4 and ids.count(in_flight) == 2 and len(set(ids)) == 3     # only the one in flight, same ID
    assert all(s[2] == "sent" for s in _sent(home))


@pytest.mark.backends
def test_a_message_another_sender_holds_is_left_to_it(home: Path, backend: str,
                                                      smtp: tuple[Recorder, LocalController]) -> None:
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.claims import claims_for, message_claim
    from kpiflow.cycle import send_queued

    rec, c = smtp
    _home(home, c.port)
    settings = load_settings(home)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store, open_store(settings) as other:
        m = store.queue_message("k", "<k@council.example>", "overdue", HOUSING, Q.label, None,
                                ["hana@council.example"], [], "Overdue: x")
        # another sender (its own connection: on PostgreSQL, its own session) holds the claim
        held = claims_for(settings, other).named(message_claim(m.id))
        assert held is not None
        assert send_queued(settings, store, catalogue).sent == []
        assert rec.received == [] and store.message(m.id).state == "queued"    # type: ignore[union-attr]
        held.release()
        assert [x.id for x in send_queued(settings, store, catalogue).sent] == [m.id]
        assert len(rec.received) == 1


@pytest.mark.backends
def test_acknowledgements_are_queued_with_the_submission_and_sent_after(home: Path, backend: str,
                                                                         smtp: tuple[Recorder, LocalController]) -> None:
    rec, c = smtp
    set_up(home, host="127.0.0.1", port=c.port, acknowledge=True)
    settings = load_settings(home)
    assert settings.mail.acknowledge
    issued = issue(settings, Q, HOUSING)[0]
    fill(issued, home / "inbox" / "bad.xlsx", BAD_HS, email="not an address")
    fill(issued, home / "inbox" / "good.xlsx", {"HS01": {"Number": 120}}, email="filler@council.example")
    done = ingest_returns(settings)
    assert {o.status for o in done.outcomes} == {"accepted", "rejected"}
    assert any(line.startswith("Sent acknowledgement") for line in done.lines())
    assert len(rec.received) == 2
    by = {m["Subject"].split(":")[0]: (r, m) for r, m in zip(rec.received, rec.messages, strict=True)}
    r_bad, m_bad = by["Rejected"]
    assert sorted(r_bad.rcpt_tos) == ["hana@council.example", "housing-team@council.example"]   # About Email invalid
    assert [p.get_filename() for p in m_bad.iter_attachments()] == ["bad - feedback.xlsx", "bad - feedback.txt"]
    assert "not a number" in m_bad.get_body(("plain",)).get_content()
    r_good, _m_good = by["Accepted"]
    assert r_good.rcpt_tos[0] == "filler@council.example"
    with open_store(settings) as store:
        acks = store.messages(state="sent")
        subs = {s.id for s in store.submissions(HOUSING, Q)}
    assert {a.submission_id for a in acks} == subs and all(a.kind == "acknowledgement" for a in acks)


def test_an_acknowledgement_survives_a_down_mail_server(home: Path) -> None:
    port = refusing_port()
    set_up(home, host="127.0.0.1", port=port, acknowledge=True)
    toml = home / "kpiflow.toml"
    settings = load_settings(home)
    issued = issue(settings, Q, HOUSING)[0]
    fill(issued, home / "inbox" / "good.xlsx", {"HS01": {"Number": 120}})
    done = ingest_returns(settings)
    assert any("Acknowledgements not sent" in line and f"127.0.0.1:{port}" in line for line in done.lines())
    with open_store(settings) as store:
        assert [(m.kind, m.state) for m in store.messages()] == [("acknowledgement", "queued")]
    rec = Recorder()
    c = start(rec)
    try:
        toml.write_text(toml.read_text().replace(f"port = {port}", f"port = {c.port}"))
        code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-02", "--send", "--home", str(home))
        assert code == 0, out
        assert [m["Subject"].split(":")[0] for m in rec.messages] == ["Accepted"]
        code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-02", "--send", "--home", str(home))
        assert len(rec.received) == 1
    finally:
        c.stop()
