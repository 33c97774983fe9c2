"""``kpiflow template check``: find unknown variables and broken tags in a report template by
rendering it with a complete sample context under a strict Jinja environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kpiflow.problems import DocumentAt, ValidationResult

_TEXT = re.compile(r"<w:t(?: [^>]*)?>([^<]*)</w:t>")


def sample_context(tpl: Any) -> dict[str, Any]:
    """Every variable the report provides, with example values."""
    ex = {
        "id": "CS01", "anchor": "CS01", "commentary_block": "", "response_block": "", "portfolio_heading": "PORTFOLIO", "portfolio": "Portfolio", "description": "Indicator",
        "better": "Low", "years": ["2015/16", "2016/17"], "this_year": "2017/18", "row_label": "No. (Rate)",
        "cells": ["1 (1.0)"] * 6, "target": "No Target Set", "commentary": ["Commentary."],
        "commentary_drafted": True, "charts": "", "response": ["Response."],
        "breakdown": [{"category": "Under 1", "number": "1"}], "breakdown_title": "Breakdown",
        "reasons": ["reason"], "rag": "No target", "values_note": "Figures are for the year to date.",
    }
    return {
        "council": "Council", "title": "Title", "quarter": "2017/18 Q2", "quarter_short": "Q2 2017/18",
        "rule_text": "rule", "no_change_percent": "1", "tolerance_percent": "5", "exception_count": 1,
        "summary": [{"id": "CS01", "description": "Indicator", "portfolio": "Portfolio", "vs_previous": "Improved",
                     "vs_last_year": "Worsened", "rag": "Red", "reason": "Reason",
                     "previous_symbol": "\u25b2", "last_year_symbol": "\u25bc", "rag_fill": "FFC7CE"}],
        "exceptions": [ex], "report_date": "14 October 2017",
        "outstanding": [{"service": "Service", "state": "missing", "indicators": "CS01",
                         "text": "Service: no return received by 14 October 2017, so CS01 has no figure for Q2 2017/18."}],
    }


def _near(xml: str, lineno: int | None) -> str:
    if not lineno:
        return ""
    lines = xml.split("\n")
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    text = "".join(_TEXT.findall(line)) or re.sub(r"<[^>]+>", "", line)
    text = " ".join(text.split())
    return text[:80]


def check_template(path: Path) -> ValidationResult:
    from docxtpl import DocxTemplate
    from jinja2 import TemplateSyntaxError, UndefinedError

    from kpiflow.report import jinja_env

    result = ValidationResult(path.name)
    try:
        tpl = DocxTemplate(str(path))
        tpl.init_docx()
    except Exception as exc:
        result.error("not-docx", f"The template cannot be opened as a Word document ({type(exc).__name__}). Save it "
                     "as a .docx in Word.")
        return result
    env = jinja_env()
    try:
        undeclared = tpl.get_undeclared_template_variables(env, sample_context(tpl))
    except TemplateSyntaxError as exc:
        xml = tpl.patch_xml(tpl.get_xml())
        near = _near(xml, exc.lineno)
        result.error("template-syntax", f"{exc.message}" + (f', near "{near}"' if near else "") +
                     ". Check the tags are complete, e.g. {{ ex.description }} or {%p endfor %}.", at=DocumentAt("document"))
        return result
    except Exception as exc:
        result.error("template-syntax", f"The template could not be read: {exc}", at=DocumentAt("document"))
        return result
    for name in sorted(undeclared):
        result.error("unknown-variable", f'"{name}" is not a variable the report provides. See doc_templates/README.md '
                     "for the list.", at=DocumentAt("document"))
    if result.ok:
        try:
            tpl = DocxTemplate(str(path))
            tpl.render(sample_context(tpl), jinja_env=env, autoescape=True)
        except UndefinedError as exc:
            result.error("unknown-variable", f"{exc.message}. See doc_templates/README.md for the variables.",
                         at=DocumentAt("document"))
        except TemplateSyntaxError as exc:
            result.error("template-syntax", f"{exc.message}.", at=DocumentAt("document"))
    from kpiflow.docx.a11y import check_document

    check_document(path, result, template=True)
    return result
