"""The audit every drafted sentence passes: each figure it quotes is in the values table or named for what it is
(PRODUCT.md section 10), shared by the council fixtures' tests."""

from __future__ import annotations

import re

N = r"\d(?:[\d,]*\d)?(?:\.\d+)?%?"   # a number never ends on the comma after it
NUMBER = re.compile(rf"(?<![\w/.,-]){N}")
PERIOD = re.compile(r"Q[1-4] \d{4}/\d{2}|\d{4}/\d{2}|\b\d{1,2} (?:January|February|March|April|May|June|July|"
                    r"August|September|October|November|December) \d{4}|last \d+ (?:months|quarters)|\d{4}-\d{2}")
P = r"Q[1-4] \d{4}/\d{2}"
# a figure not in the table must sit in one of these, which name what it is
LABELLED = [re.compile(x) for x in (
    rf"for the year(?: to date)? was (?P<n>{N})",
    rf"on course for (?P<n>{N}) by the year end",
    rf"added (?P<n>{N}) to the year to date",
    rf"the (?P<n>{N}) added in {P}",
    rf"(?:average|England|England figure) \((?P<n>{N})\)",
    rf"(?:than|compared with) (?:at |in )?{P} \({N} against (?P<n>{N})\)",
    rf"as (?:at|in) {P} \((?:{N} against )?(?P<n>{N})\)",
    rf"same point last year \((?:{N} against )?(?P<n>{N}) at {P}\)",
    rf"In \d{{4}}/\d{{2}}, the latest [^,]+, the \w+ was (?P<n>{N})",
    rf"on course for a rate of (?P<n>{N}) per",
    rf"a rate of {N} per (?P<n>{N})",
    rf"(?:average|England's) (?:(?:rose|fell) )?from (?P<n>{N}) to {N}",
    rf"(?:average|England's) (?:(?:rose|fell) )?from {N} to (?P<n>{N})",
    rf"The total for \d{{4}}/\d{{2}} was (?P<n>{N})",
    rf"the \w+ \((?P<n>{N})\) was (?:above|below|level with) ",
    rf"average for \d{{4}}/\d{{2}} \((?P<n>{N})\)",
)]


def unlabelled(text: str, table: list[str]) -> list[str]:
    """Figures in ``text`` that are neither in the values table nor named for what they are."""
    in_table = {m.group() for cell in table for m in NUMBER.finditer(PERIOD.sub(" ", cell))}
    labelled = {m.start("n") for pattern in LABELLED for m in pattern.finditer(text)}
    periods = [(m.start(), m.end()) for m in PERIOD.finditer(text)]
    out = []
    for m in NUMBER.finditer(text):
        if any(a <= m.start() < b for a, b in periods) or m.start() in labelled:
            continue
        if m.group() not in in_table:
            out.append(m.group())
    return out
