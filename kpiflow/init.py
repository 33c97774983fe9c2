"""``kpiflow init``: lay out a working folder with the shipped example files."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from kpiflow.errors import HomeError

SKELETON_FILES = ("workbook_templates/catalogue.xlsx", "doc_templates/appendix_6b.docx", "doc_templates/README.md",
                  *(f"doc_templates/mail/{name}.{ext}" for name in ("chase", "signoff-request", "acknowledgement",
                                                                     "send-back") for ext in ("txt", "html")),
                  "doc_templates/mail/README.md")

TOML = '''# kpiflow settings for this working folder. Every key is optional; the values shown
# commented out are the defaults.

council = "{council}"
# la_code = ""              # the council's DfE code, for kpiflow comparators import (Blackpool: "890")

[rules]
# Which indicators are exceptions: "below-target-or-worse-than-last-year", "red",
# "red-or-amber-worsening" or "missed-two-quarters".
# exception = "below-target-or-worse-than-last-year"
# tolerance_percent = 5     # the amber band, unless the catalogue sets one for the indicator
# no_change_percent = 1     # a move smaller than this is "No change"
# projection_points = 6     # how many latest values a projection is fitted to

[report]
# charts = "native"         # or "image" for pictures (needs the optional matplotlib extra)
# overview = true           # "Performance at a glance" first; false for the exceptions only
# group_by = "portfolio"    # the overview's counts by portfolio, or "priority" (catalogue column Priority)

[watch]
# settle_seconds = 2        # a file must be still this long before it is read
# rescan_seconds = 30       # how often the inbox is scanned as well as watched

# [cycle]
# due_working_days = 15     # a return is due this many working days after its quarter ends
# bank_holidays = "england" # or "wales", "scotland", "northern-ireland" (UK bank holidays)
# remind_days_before = 3    # working days before the due date: a reminder to services with nothing accepted
# escalate_after = [1, 5]   # working days after it: a chase (cc the approver), then an escalation
# signoff = false           # true: an accepted return counts once its approver has signed it off

# [mail]
# from = ""                 # e.g. "performance@council.gov.uk"
# host = ""                 # the SMTP server; blank = nothing is sent, kpiflow chase --eml still works
# port = 587
# starttls = true
# username = ""             # the password comes from KPIFLOW_SMTP_PASSWORD, never from a file
# acknowledge = false       # true: every accepted or rejected return is answered by email

# [store]
# url = "postgresql://kpiflow@dbhost/kpiflow"   # a PostgreSQL server, for several hosts over one shared
#                                               # inbox (docs/postgresql.md); KPIFLOW_DATABASE_URL wins.
#                                               # Default: SQLite, kpiflow.db in this folder.
'''


def skeleton_file(rel: str) -> Path:
    return Path(str(resources.files("kpiflow") / "skeleton" / rel))


def init_home(home: Path, council: str = "Example Council") -> list[Path]:
    """Create the folders, a commented kpiflow.toml and the example files. Existing files are kept."""
    if home.exists() and not home.is_dir():
        raise HomeError(f"{home} exists and is not a folder")
    created: list[Path] = []
    for d in ("inbox/processed", "inbox/rejected", "outbox/returns", "outbox/feedback", "outbox/drafts",
              "outbox/published", "workbook_templates", "doc_templates", "doc_templates/mail"):
        (home / d).mkdir(parents=True, exist_ok=True)
    toml = home / "kpiflow.toml"
    if not toml.exists():
        toml.write_text(TOML.format(council=council.replace('"', '\\"')), encoding="utf-8")
        created.append(toml)
    for rel in SKELETON_FILES:
        dest = home / rel
        if not dest.exists():
            shutil.copyfile(skeleton_file(rel), dest)
            created.append(dest)
    return created
