"""Email addresses as the catalogue, the returns and the messages hold them: checked plainly, and made safe for a
header (no line break or control character from a user ever reaches one)."""

from __future__ import annotations

import re

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def valid_address(text: str) -> bool:
    """A plain address (``name@council.gov.uk``): no display name, no spaces, no line breaks."""
    if not isinstance(text, str) or len(text) > 254 or not _ADDRESS.fullmatch(text):
        return False
    return len(text.rsplit("@", 1)[0]) <= 64


def parse_addresses(value: object) -> tuple[str, ...]:
    """One or more addresses separated by ``;`` (blank: none). ValueError naming a bad one."""
    if value is None:
        return ()
    text = str(value)
    out: list[str] = []
    for part in text.split(";"):
        addr = part.strip()
        if not addr:
            continue
        if not valid_address(addr):
            shown = _CONTROL.sub(" ", addr)
            raise ValueError(f'"{shown}" is not an email address. Give addresses like name@council.gov.uk, '
                             "separated by ; where there are several.")
        if addr.casefold() not in {a.casefold() for a in out}:
            out.append(addr)
    return tuple(out)


def header_text(text: str) -> str:
    """A user's words made safe for a header: every line break and control character a space."""
    return " ".join(_CONTROL.sub(" ", text).split())
