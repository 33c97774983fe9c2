"""Text in the XML kpiflow writes as text (Word and SpreadsheetML parts alike): markup escaped, and the
characters XML cannot hold at all dropped before. Imports nothing (``xml.sax.saxutils`` imports urllib and
the mail modules)."""

from __future__ import annotations

import re

# Characters outside the XML 1.0 Char production (control characters, lone surrogates, U+FFFE/U+FFFF)
# cannot be serialised at all: written as the few it leaves out, which compiles in a tenth of the time
# of the complement of the many it allows
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text for XML content: ``&``, ``<`` and ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(text: str) -> str:
    """An attribute value, quoted: escaped as content, and its quotes and line breaks too."""
    return '"' + escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;") \
        .replace("\t", "&#9;") + '"'
