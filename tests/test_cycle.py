"""The returns cycle's calendar and plan (kpiflow/cycle.py): due dates worked out by hand, stages,
recipients, the dry run and .eml files, sign-off, status and the audit trail."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest
from cycle_helpers import ADULTS, CONTACTS, HOUSING, cli, cycle_catalogue, fill, set_up
from typer.testing import CliRunner

from kpiflow.catalogue import check_catalogue, load_checked_catalogue
from kpiflow.cli import app
from kpiflow.cycle import (
    ESCALATION,
    OVERDUE,
    REMINDER,
    add_working_days,
    chase,
    days_to_go,
    due_date,
    stage_due,
    subject,
    timetable,
)
from kpiflow.demo import SERVICE
from kpiflow.errors import SettingsError
from kpiflow.issue import issue
from kpiflow.periods import parse_period
from kpiflow.pipeline import ingest_returns
from kpiflow.settings import Cycle, load_settings
from kpiflow.store import open_store
from kpiflow.workbook.build import write_catalogue

Q2_2025 = parse_period("2025/26 Q2")
Q2_2017 = parse_period("2017/18 Q2")


# -- due dates, worked out by hand from the calendar -------------------------------------------------
def test_the_spec_example_is_due_on_tuesday_21_october_2025() -> None:
    # Q2 ends Tue 30 Sep 2025. Working days: Oct 1-3 (3), 6-10 (8), 13-17 (13), 20 (14), 21 (15).
    assert due_date(Q2_2025, Cycle()) == dt.date(2025, 10, 21)
    assert subject(REMINDER, Q2_2025, "Housing", dt.date(2025, 10, 21)) == (
        "Reminder: performance return for Q2 2025/26 due Tuesday 21 October 2025 (Housing)")


def test_christmas_and_new_year_are_not_working_days() -> None:
    # Q3 2025/26 ends Wed 31 Dec 2025. Thu 1 Jan 2026 is New Year's Day. Fri 2 Jan (1), 5-9 Jan (6),
    # 12-16 Jan (11), 19-22 Jan (15): due Thu 22 January 2026.
    q3 = parse_period("2025/26 Q3")
    assert due_date(q3, Cycle()) == dt.date(2026, 1, 22)
    # across Christmas itself: from Mon 22 Dec 2025, 5 working days are 23, 24 (2), [25, 26 bank holidays,
    # 27-28 weekend], 29, 30, 31 (5): Wed 31 December
    assert add_working_days(dt.date(2025, 12, 22), 5, "england") == dt.date(2025, 12, 31)
    # 2026: Christmas Day is a Friday, Boxing Day a Saturday, so Mon 28 Dec is the substitute day
    assert add_working_days(dt.date(2026, 12, 24), 1, "england") == dt.date(2026, 12, 29)
    # Scotland also keeps 2 January: from Wed 31 Dec 2025, one working day is Mon 5 Jan 2026
    assert add_working_days(dt.date(2025, 12, 31), 1, "scotland") == dt.date(2026, 1, 5)
    assert add_working_days(dt.date(2025, 12, 31), 1, "england") == dt.date(2026, 1, 2)


def test_easter_and_the_early_may_bank_holiday_are_not_working_days() -> None:
    # Q4 2025/26 ends Tue 31 Mar 2026. Good Friday 3 Apr, Easter Monday 6 Apr. Working days: Apr 1, 2 (2),
    # 7-10 (6), 13-17 (11), 20-23 (15): due Thu 23 April 2026.
    q4 = parse_period("2025/26 Q4")
    assert due_date(q4, Cycle()) == dt.date(2026, 4, 23)
    # with 25 working days: Apr 24 (16), 27-30 (20), Fri 1 May (21), [Mon 4 May early May bank holiday],
    # 5-8 May (25): Fri 8 May 2026
    assert due_date(q4, Cycle(due_working_days=25)) == dt.date(2026, 5, 8)
    # Easter Monday is not a bank holiday in Scotland: 17 working days for Scotland, 16 for England
    assert days_to_go(dt.date(2026, 3, 31), dt.date(2026, 4, 23), "england") == 15
    assert days_to_go(dt.date(2026, 3, 31), dt.date(2026, 4, 23), "scotland") == 16


def test_the_timetable_and_the_stage_reached() -> None:
    # due Tue 21 Oct 2025; reminder 3 working days before (Thu 16 Oct); chase 1 after (Wed 22 Oct);
    # escalation 5 after (Tue 28 Oct)
    t = timetable(Q2_2025, Cycle())
    assert (t.remind, t.due, t.chase, t.escalate) == (dt.date(2025, 10, 16), dt.date(2025, 10, 21),
                                                       dt.date(2025, 10, 22), dt.date(2025, 10, 28))
    assert stage_due("missing", dt.date(2025, 10, 15), t) is None
    assert stage_due("missing", dt.date(2025, 10, 16), t) == REMINDER
    assert stage_due("rejected", dt.date(2025, 10, 21), t) == REMINDER
    assert stage_due("missing", dt.date(2025, 10, 22), t) == OVERDUE
    assert stage_due("missing", dt.date(2025, 11, 3), t) == ESCALATION
    assert stage_due("done", dt.date(2025, 11, 3), t) is None
    assert days_to_go(dt.date(2025, 10, 16), t.due, "england") == 3
    assert days_to_go(dt.date(2025, 10, 28), t.due, "england") == -5


# -- settings -------------------------------------------------------------------------------------------
def test_cycle_and_mail_settings_are_read_and_bad_values_named(tmp_path: Path) -> None:
    from kpiflow.init import init_home

    home = tmp_path / "h"
    init_home(home)
    toml = home / "kpiflow.toml"
    base = toml.read_text(encoding="utf-8")
    toml.write_text(base + '\n[cycle]\ndue_working_days = 10\nbank_holidays = "wales"\nescalate_after = [2, 4]\n'
                    'signoff = true\n[mail]\nfrom = "p@council.example"\nhost = "smtp.council.example"\n'
                    'port = 25\nstarttls = false\nusername = "kpi"\nacknowledge = true\n', encoding="utf-8")
    s = load_settings(home)
    assert s.cycle == Cycle(10, "wales", 3, (2, 4), True)
    assert (s.mail.sender, s.mail.host, s.mail.port, s.mail.starttls, s.mail.username, s.mail.acknowledge) == (
        "p@council.example", "smtp.council.example", 25, False, "kpi", True)
    for bad, key in (('[cycle]\nbank_holidays = "france"', "cycle.bank_holidays"),
                     ("[cycle]\nescalate_after = [5, 1]", "cycle.escalate_after"),
                     ('[cycle]\nsignoff = "yes"', "cycle.signoff"),
                     ("[cycle]\ndue_working_days = 0", "cycle.due_working_days"),
                     ('[mail]\nfrom = "not an address"', "mail.from"),
                     ('[mail]\nfrom = "a@b.example"\nport = 0', "mail.port"),
                     ('[mail]\npassword = "x"', "mail.password"),
                     ('[mail]\nhost = "smtp.example"', "mail.from")):
        toml.write_text(base + "\n" + bad + "\n", encoding="utf-8")
        with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
            load_settings(home)


# -- the catalogue's Services sheet ----------------------------------------------------------------------
def test_catalogue_check_refuses_bad_services_rows_located(tmp_path: Path) -> None:
    from dataclasses import replace

    from kpiflow.init import init_home
    from kpiflow.model import Contact

    home = tmp_path / "h"
    init_home(home)
    plain = (home / "kpiflow.toml").read_text(encoding="utf-8")
    set_up(home)
    check = check_catalogue(load_settings(home))
    assert check.result.ok, check.result.render_text()
    assert check.catalogue.contacts[HOUSING].emails == ("hana@council.example", "housing-team@council.example")
    contacts = {SERVICE: replace(CONTACTS[SERVICE], emails=("chris@council.example", "not-an-address")),
                "Libraries": Contact("Libraries", "L", ("l@council.example",)),
                ADULTS: replace(CONTACTS[ADULTS], approver_emails=("ann@council.example\r\nBcc: x@evil.example",))}
    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", cycle_catalogue(contacts))
    check = check_catalogue(load_settings(home))
    got = sorted((p.sheet, p.cell, p.code) for p in check.result.errors)
    assert got == [("Services", "", "no-service-row"), ("Services", "A3", "unknown-service"),
                   ("Services", "C2", "bad-address"), ("Services", "E4", "bad-address")]
    assert "Housing" in next(p.message for p in check.result.errors if p.code == "no-service-row")
    # no Services sheet at all is fine until [mail] or sign-off is used
    from kpiflow.demo import EXAMPLE_CATALOGUE

    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", EXAMPLE_CATALOGUE)
    errors = check_catalogue(load_settings(home)).result.errors
    assert [(p.sheet, p.code) for p in errors] == [("Services", "missing-sheet")]     # [mail] is set
    (home / "kpiflow.toml").write_text(plain, encoding="utf-8")
    assert check_catalogue(load_settings(home)).result.ok
    (home / "kpiflow.toml").write_text(plain + "\n[cycle]\nsignoff = true\n")
    errors = check_catalogue(load_settings(home)).result.errors
    assert [(p.sheet, p.code) for p in errors] == [("Services", "missing-sheet")]


# -- the issued workbook ----------------------------------------------------------------------------------
def test_the_issued_workbook_prints_the_due_date(home: Path) -> None:
    import openpyxl

    set_up(home)
    path = issue(load_settings(home), Q2_2017, SERVICE)[0]
    wb = openpyxl.load_workbook(path)
    about = {wb["About"].cell(row=r, column=1).value: wb["About"].cell(row=r, column=2)
             for r in range(1, wb["About"].max_row + 1)}
    # Q2 2017/18 ends Sat 30 Sep 2017: Oct 2-6 (5), 9-13 (10), 16-20 (15)
    assert about["Due by"].value == "Friday 20 October 2017"
    assert about["Due by"].protection.locked
    assert not about["Signed off by"].protection.locked and not about["Date signed off"].protection.locked
    guidance = [c.value for c in wb["Guidance"]["A"] if c.value]
    assert any("Due by Friday 20 October 2017" in g for g in guidance)


# -- the dry run and .eml files ---------------------------------------------------------------------------
def _ingest(home: Path, service: str, figures: dict[str, dict[str, object]], name: str | None = None,
            **about: object) -> None:
    settings = load_settings(home)
    issued = issue(settings, Q2_2017, service)[0]
    fill(issued, home / "inbox" / (name or issued.name), figures, **about)
    ingest_returns(settings)


GOOD_HS = {"HS01": {"Number": 120, "Commentary": "Steady.", "Service response": "On track."}}
BAD_HS = {"HS01": {"Number": "n/a"}}


@pytest.mark.backends
def test_dry_run_says_what_it_would_send_and_sends_nothing(home: Path, backend: str) -> None:
    set_up(home)
    _ingest(home, HOUSING, BAD_HS)
    r = CliRunner().invoke(app, ["chase", "-q", "2017/18 Q2", "--on", "2017-10-24", "--home", str(home)])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "Children's Services: overdue" in out and "Housing: overdue" in out
    assert "Subject: Overdue: performance return for Q2 2017/18 due Friday 20 October 2017 (Housing)" in out
    assert "Cc: harry@council.example" in out
    assert "rejected" in out and "2 working days overdue" in out
    assert "Nothing was sent" in out
    with open_store(load_settings(home)) as store:
        assert store.messages() == []
    j = CliRunner().invoke(app, ["chase", "-q", "2017/18 Q2", "--on", "2017-10-18", "--json", "--home", str(home)])
    data = json.loads(j.output)
    assert [(m["service"], m["stage"]) for m in data["messages"]] == [
        (SERVICE, REMINDER), (HOUSING, REMINDER), (ADULTS, REMINDER)]
    assert data["due"] == "2017-10-20"
    early = chase(load_settings(home), Q2_2017, dt.date(2017, 10, 16))
    assert early.plan.planned == []


def test_bad_on_dates_and_arguments_are_refused_plainly(home: Path) -> None:
    set_up(home)
    for args, code, words in ((["--on", "24/10/2017"], 2, "is not a date"),
                              (["--on", "2017-02-30"], 2, "is not a date"),
                              (["--send", "--eml"], 2, "choose one")):
        r = CliRunner().invoke(app, ["chase", "-q", "2017/18 Q2", *args, "--home", str(home)])
        assert r.exit_code == code and words in r.output, r.output
        assert "Traceback" not in r.output
    code, out = cli("chase", "-q", "2017/18 Q2", "--send", "--home", str(home))
    assert code == 2 and "host is blank" in out and "Traceback" not in out


@pytest.mark.backends
def test_eml_files_are_messages_outlook_opens_and_are_not_recorded_as_sent(home: Path, backend: str) -> None:
    set_up(home)
    settings = load_settings(home)
    issue(settings, Q2_2017)
    _ingest(home, HOUSING, BAD_HS)
    r = chase(settings, Q2_2017, dt.date(2017, 10, 30), "eml")
    folder = home / "outbox" / "chase" / "2017-18_Q2"
    files = sorted(folder.glob("*.eml"))
    assert [p.name for p in files] == ["Adult Services - escalation.eml", "Children's Services - escalation.eml",
                                      "Housing - escalation.eml"]
    assert r.eml == sorted(r.eml, key=lambda p: p.name) or len(r.eml) == 3
    msg = email.message_from_bytes((folder / "Housing - escalation.eml").read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Escalation: performance return for Q2 2017/18 due Friday 20 October 2017 (Housing)"
    assert msg["To"] == "hana@council.example, housing-team@council.example"
    assert msg["Cc"] == "harry@council.example, dana@council.example"
    assert msg["Message-ID"]
    body = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "HS01" in body and "not a number" in body and "1 problem" in body
    assert "Friday 20 October 2017" in body and str(home / "inbox") in body
    assert "<li>" in html
    names = [part.get_filename() for part in msg.iter_attachments()]
    assert names == ["Housing_2017-18_Q2 - feedback.xlsx"]     # the annotated copy, for a rejected return
    cs = email.message_from_bytes((folder / "Children's Services - escalation.eml").read_bytes(),
                                  policy=email.policy.default)
    assert [p.get_filename() for p in cs.iter_attachments()] == ["Children's Services_2017-18_Q2.xlsx"]
    with open_store(settings) as store:
        assert store.messages() == []
    chase(settings, Q2_2017, dt.date(2017, 10, 30), "eml")
    assert len(list(folder.glob("*.eml"))) == 6       # never overwritten


def test_a_working_folder_template_overrides_the_shipped_one(home: Path) -> None:
    set_up(home)
    mine = home / "doc_templates" / "mail" / "chase.txt"
    mine.write_text("Our own words for {{ service }}, due {{ due_date }}.\n", encoding="utf-8")
    chase(load_settings(home), Q2_2017, dt.date(2017, 10, 30), "eml")
    msg = email.message_from_bytes((home / "outbox/chase/2017-18_Q2/Housing - escalation.eml").read_bytes(),
                                   policy=email.policy.default)
    assert msg.get_body(("plain",)).get_content().strip() == "Our own words for Housing, due Friday 20 October 2017."
    assert "Indicators affected" in msg.get_body(("html",)).get_content()     # the shipped HTML still
    mine.write_text("{{ servcie }}\n", encoding="utf-8")
    code, out = cli("chase", "-q", "2017/18 Q2", "--on", "2017-10-30", "--eml", "--home", str(home))
    assert code == 2 and "chase.txt" in out and "Traceback" not in out


def test_no_header_takes_a_line_break_from_a_name_or_an_address(home: Path) -> None:
    from dataclasses import replace

    contacts = dict(CONTACTS)
    contacts[HOUSING] = replace(CONTACTS[HOUSING], contact="Hana\r\nBcc: spy@evil.example")
    set_up(home, contacts=contacts)
    _ingest(home, HOUSING, BAD_HS, email="filler@council.example\r\nBcc: spy@evil.example")
    chase(load_settings(home), Q2_2017, dt.date(2017, 10, 30), "eml")
    raw = (home / "outbox/chase/2017-18_Q2/Housing - escalation.eml").read_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"spy@evil.example" not in headers and b"Bcc" not in headers


# -- sign-off and status ----------------------------------------------------------------------------------
@pytest.mark.backends
def test_signoff_recorded_sent_back_and_attested(home: Path, backend: str) -> None:
    set_up(home, extra="\n[cycle]\nsignoff = true\n")
    settings = load_settings(home)
    runner = CliRunner()
    code, out = cli("signoff", "-q", "2017/18 Q2", "--service", HOUSING, "--by", "Harry Head", "--home", str(home))
    assert code == 1 and "no accepted return" in out
    code, out = cli("signoff", "-q", "2017/18 Q2", "--service", "Parks", "--by", "X", "--home", str(home))
    assert code == 2 and "not a service" in out
    _ingest(home, HOUSING, GOOD_HS)
    plan = chase(settings, Q2_2017, dt.date(2017, 10, 16))
    assert [(p.service, p.kind, p.to) for p in plan.plan.planned] == [
        (HOUSING, "signoff-request", ("harry@council.example",))]
    code, out = cli("signoff", "-q", "2017/18 Q2", "--service", HOUSING, "--send-back", "--by", "Harry Head",
                    "--home", str(home))
    assert code == 2 and "--note" in out
    r = runner.invoke(app, ["signoff", "-q", "2017/18 Q2", "--service", "housing", "--send-back", "--by",
                            "Harry Head", "--note", "HS01 is last quarter's figure", "--home", str(home)])
    assert r.exit_code == 0, r.output
    st = runner.invoke(app, ["status", "-q", "2017/18 Q2", "--json", "--home", str(home)])
    hs = next(s for s in json.loads(st.output)["services"] if s["service"] == HOUSING)
    assert hs["state"] == "rejected" and "sent back" in hs["detail"]
    assert hs["signoff"]["event"] == "sent-back" and hs["signoff"]["by"] == "Harry Head"
    with open_store(settings) as store:
        queued = store.messages(HOUSING, Q2_2017, state="queued")
        assert [(m.kind, m.to, m.cc) for m in queued] == [
            ("send-back", ("filler@council.example", "hana@council.example", "housing-team@council.example"),
             ("harry@council.example",))]
    # a new return needs its own sign-off; this one attests it on the About sheet
    _ingest(home, HOUSING, {"HS01": {"Number": 121, "Commentary": "Steady.", "Service response": "On track."}},
            name="Housing again.xlsx", **{"Signed off by": "harry head", "Date signed off": dt.datetime(2017, 10, 17)})
    st = runner.invoke(app, ["status", "-q", "2017/18 Q2", "--json", "--home", str(home)])
    hs = next(s for s in json.loads(st.output)["services"] if s["service"] == HOUSING)
    assert hs["state"] == "accepted"
    assert (hs["signoff"]["event"], hs["signoff"]["how"], hs["signoff"]["by"]) == ("signed-off", "attested", "harry head")
    # a sign-off dated before the return was completed does not count, and says why
    _ingest(home, ADULTS, {"AS01": {"Number": 50}}, **{"Signed off by": "Ann Approver",
                                                        "Date signed off": dt.datetime(2017, 10, 1)})
    with open_store(settings) as store:
        sub = store.accepted_submission(ADULTS, Q2_2017)
        assert sub is not None and any(p["code"] == "signoff-not-valid" for p in sub.problems)
        assert store.signoffs(ADULTS) == []
    r = runner.invoke(app, ["signoff", "-q", "2017/18 Q2", "--service", ADULTS, "--by", "Dana Director", "--note",
                            "Ann is away", "--home", str(home)])
    assert r.exit_code == 0, r.output
    hist = runner.invoke(app, ["history", "--service", ADULTS, "--home", str(home)])
    assert "signed-off" in hist.output and "Dana Director" in hist.output and "Ann is away" in hist.output
    hist = runner.invoke(app, ["history", "--service", HOUSING, "--json", "--home", str(home)])
    events = [(s["event"], s["how"]) for s in json.loads(hist.output)["signoffs"]]
    assert events == [("sent-back", "recorded"), ("signed-off", "attested")]


@pytest.mark.backends
def test_status_shows_due_date_days_and_the_last_message(home: Path, backend: str) -> None:
    from kpiflow.status import status

    set_up(home)
    settings = load_settings(home)
    st = status(settings, Q2_2017, today=dt.date(2017, 10, 24))
    cs = next(s for s in st.services if s.service == SERVICE)
    assert (cs.due, cs.days_to_go, cs.last_message) == ("2017-10-20", -2, None)
    with open_store(settings) as store:
        m = store.queue_message("x", "<x@council.example>", "overdue", SERVICE, Q2_2017.label, None,
                                ["chris@council.example"], ["alex@council.example"], "Overdue: ...")
        store.mark_sent(m.id, "me")
    st = status(settings, Q2_2017, today=dt.date(2017, 10, 18))
    cs = next(s for s in st.services if s.service == SERVICE)
    assert cs.days_to_go == 2
    assert cs.last_message is not None and cs.last_message["stage"] == "overdue"
    assert cs.last_message["to"] == ["chris@council.example", "alex@council.example"]
    r = CliRunner().invoke(app, ["status", "-q", "2017/18 Q2", "--home", str(home)], env={"COLUMNS": "300"})
    assert "Fri 20 Oct 2017 (4 working days overdue)" in r.output or "overdue" in r.output
    assert "overdue 20" in r.output and "chris@council.example" in r.output


def test_signoff_for_a_published_quarter_is_refused(home: Path) -> None:
    set_up(home, extra="\n[cycle]\nsignoff = true\n")
    _ingest(home, HOUSING, GOOD_HS)
    settings = load_settings(home)
    with open_store(settings) as store:
        store.record_quarter_event(Q2_2017, "published", "clerk", "")
    code, out = cli("signoff", "-q", "2017/18 Q2", "--service", HOUSING, "--by", "Harry Head", "--home", str(home))
    assert code == 1 and "published" in out
    with open_store(settings) as store:
        assert store.signoffs() == []
    assert load_checked_catalogue(settings).contacts[HOUSING].approver == "Harry Head"


def _context(settings: Any, catalogue: Any) -> dict[str, Any]:
    import datetime as dt

    from kpiflow.report import build_context
    from kpiflow.report.gather import gather

    with open_store(settings) as store:
        snap = gather(settings, store, catalogue, Q2_2017)
    return build_context(snap, settings.council, settings.rules, dt.date.today()).template_variables()


def test_figures_not_signed_off_are_marked_provisional_and_publish_refuses_them(home: Path) -> None:
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.publish import publish_quarter

    set_up(home, extra="\n[cycle]\nsignoff = true\n")
    _ingest(home, HOUSING, GOOD_HS)
    settings = load_settings(home)
    catalogue = load_checked_catalogue(settings)
    ctx = _context(settings, catalogue)
    assert ctx["provisional"] == ["HS01"]
    for e in ctx["exceptions"]:
        assert e["row_label"].endswith("(Provisional: not signed off)") == (e["id"] == "HS01")
    assert [o["text"] for o in ctx["outstanding"] if o["state"] == "provisional"] == [
        "Housing: Provisional: not signed off, so HS01 is provisional."]
    result = publish_quarter(settings, Q2_2017)
    assert not result.ok and [p.code for p in result.checks.problems] == ["not-signed-off"]   # type: ignore[union-attr]
    assert "kpiflow signoff" in result.lines[0] and "Nothing was published." in result.lines
    with open_store(settings) as store:
        assert store.quarter_state(Q2_2017) == "open"
    code, out = cli("signoff", "-q", "2017/18 Q2", "--service", HOUSING, "--by", "Harry Head", "--home", str(home))
    assert code == 0, out
    ctx = _context(settings, catalogue)
    assert ctx["provisional"] == []
