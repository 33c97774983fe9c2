"""How an exception's commentary and service response are marked in the draft: the one
vocabulary that the report writes and the read-back reads.

A region sits in a content control tagged ``kpiflow:<ID>:<kind>`` (Word keeps it) after a label
holding a point bookmark ``kpiflow_<anchor>_<kind>`` (LibreOffice keeps that when it drops the
tag), where the anchor is the indicator ID as a bookmark name can hold it.
"""

from __future__ import annotations

import re

KINDS = ("commentary", "response")
TAG = re.compile(r"kpiflow:(.+):(commentary|response)")
BOOKMARK = re.compile(r"kpiflow_(.+)_(commentary|response)")
SECTION = re.compile(r"kpiflow_(.+)_section")            # an exception's heading (section_name)
# Writer names a copied bookmark "<name> Copy 1" and saves it as "<name>_Copy_1": still that region's mark
BOOKMARK_COPY = re.compile(r"kpiflow_(.+)_(commentary|response)[ _]Copy[ _]\d+")
# beside a region's mark, a point bookmark holding the hash of the words kpiflow wrote there (drafted from the
# figures, or a service's words from the store; not an officer's kept from an earlier draft): kept in the document,
# so that kpiflow's words are known as its own even when the properties are removed
DRAFTED = re.compile(r"kpiflow_d_([0-9a-f]{16})")


def mark_anchor(indicator_id: str) -> str:
    """The indicator ID as it can appear in a bookmark name (letters, digits, underscores)."""
    return re.sub(r"\W", "_", indicator_id, flags=re.ASCII)


def bookmark_name(indicator_id: str, kind: str) -> str:
    return f"kpiflow_{mark_anchor(indicator_id)}_{kind}"


def section_name(indicator_id: str) -> str:
    """The bookmark at an exception's heading, which the overview's row for it links to."""
    return f"kpiflow_{mark_anchor(indicator_id)}_section"


def tag_value(indicator_id: str, kind: str) -> str:
    return f"kpiflow:{indicator_id}:{kind}"


def drafted_bookmark(digest: str) -> str:
    return f"kpiflow_d_{digest}"
