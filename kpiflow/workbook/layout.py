"""The returns workbook's layout: sheet names, the rows headings sit on, and the headings, which
build writes and validate (and read) look for. Plain values: no openpyxl here."""

from __future__ import annotations

GUIDANCE = "Guidance"
ABOUT = "About"
RETURN = "Return"
SUPPORT = "Supporting data"
BREAKDOWN = "Breakdown"
HEADER_FILL = "1F4E79"     # dark blue behind white headings (the returns workbook, the feedback copy)
ISSUED_SHEET = "kpiflow"   # the hidden record of pre-filled cells in an issued returns workbook

RETURN_HEADER_ROW = 6
SUPPORT_HEADER_ROW = 3     # on the Supporting data and Breakdown sheets

#: the Return sheet's headings as issued (the history columns and "Last service response" follow)
RETURN_HEADERS = ["Indicator ID", "Indicator", "Better to be", "Unit", "Target", "Number", "Rate",
                  "Statistical neighbours", "England", "Commentary", "Service response", "What to enter",
                  "Comparator year"]
#: the year a row's comparators are for; optional when reading (a workbook without it: the default year)
COMPARATOR_YEAR = "Comparator year"
COMPARATOR_YEARS_BACK = 10   # a comparator year further back than this is refused (trends look no further)
#: the ones a return must still have to be read, in the order a missing one is reported
RETURN_REQUIRED = ["Indicator ID", "Indicator", "Better to be", "Unit", "Number", "Rate",
                   "Statistical neighbours", "England", "Target", "Commentary", "Service response"]
SUPPORT_HEADERS = ["Indicator ID", "Period", "Number", "Rate", "Statistical neighbours", "England"]
BREAKDOWN_HEADERS = ["Indicator ID", "Period", "Category", "Number"]
ABOUT_LABELS = ["Service", "Quarter", "Template version", "Completed by", "Email", "Date completed", "Due by",
                "Signed off by", "Date signed off"]
#: the About labels a return must have
ABOUT_REQUIRED = ["Service", "Quarter"]
