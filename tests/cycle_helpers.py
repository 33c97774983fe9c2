"""Working folders for the returns-cycle tests: three services with contacts, a mail server."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from kpiflow.demo import EXAMPLE_CATALOGUE, SERVICE
from kpiflow.model import Catalogue, Contact, Indicator
from kpiflow.workbook.build import fill_return, write_catalogue

HOUSING, ADULTS = "Housing", "Adult Services"

CONTACTS = {
    SERVICE: Contact(SERVICE, "Chris Child", ("chris@council.example",), "Alex Approver", ("alex@council.example",),
                     "Dana Director", ("dana@council.example",)),
    HOUSING: Contact(HOUSING, "Hana House", ("hana@council.example", "housing-team@council.example"),
                     "Harry Head", ("harry@council.example",), "Dana Director", ("dana@council.example",)),
    ADULTS: Contact(ADULTS, "Ade Adult", ("ade@council.example",), "Ann Approver", ("ann@council.example",),
                    "Dana Director", ("dana@council.example",)),
}


def cycle_catalogue(contacts: dict[str, Contact] | None = None) -> Catalogue:
    extra = (Indicator("HS01", "Households in temporary accommodation", "Housing and Planning", HOUSING, "Low",
                       "Number", None, "Quarterly", "Snapshot", None, "Auto"),
             Indicator("AS01", "Adults helped to live at home", "Adult Social Care", ADULTS, "High", "Number", None,
                       "Quarterly", "Snapshot", None, "Auto"))
    return replace(EXAMPLE_CATALOGUE, indicators=EXAMPLE_CATALOGUE.indicators + extra,
                   contacts=dict(CONTACTS if contacts is None else contacts), has_services_sheet=True)


def set_up(home: Path, host: str = "", port: int = 25, extra: str = "", contacts: dict[str, Contact] | None = None,
           starttls: bool = False, username: str = "", acknowledge: bool = False) -> None:
    """Give ``home`` the three-service catalogue and [mail] settings for a local server."""
    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", cycle_catalogue(contacts))
    original = home / ".kpiflow.toml.before-set-up"      # set up again: from the folder's own settings
    if not original.exists():
        original.write_text((home / "kpiflow.toml").read_text(encoding="utf-8"), encoding="utf-8")
    text = original.read_text(encoding="utf-8")
    mail = (f'\n[mail]\nfrom = "performance@council.example"\nhost = "{host}"\nport = {port}\n'
            f"starttls = {'true' if starttls else 'false'}\nusername = \"{username}\"\n"
            f"acknowledge = {'true' if acknowledge else 'false'}\n")
    # the [mail] and [cycle] tables go before a [store] table the fixture may have added
    if "\n[store]" in text:
        head, store = text.split("\n[store]", 1)
        text = head + mail + extra + "\n[store]" + store
    else:
        text += mail + extra
    (home / "kpiflow.toml").write_text(text, encoding="utf-8")


def fill(issued: Path, out: Path, figures: dict[str, dict[str, object]], email: str = "filler@council.example",
         **about: object) -> Path:
    values: dict[str, object] = {"Completed by": "Fran Filler", "Email": email,
                                 "Date completed": dt.datetime(2017, 10, 16)}
    values.update(about)
    return fill_return(issued, out, values, figures)


def cli(*args: str) -> tuple[int, str]:
    """Run the kpiflow command in this process as a user would (``main``: errors become messages
    and exit codes); its exit code and everything it printed."""
    import contextlib
    import io
    import sys

    from kpiflow.cli import main

    out = io.StringIO()
    argv = sys.argv
    sys.argv = ["kpiflow", *args]
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    return int(code or 0), out.getvalue()
