"""``kpiflow template check``: find unknown variables and broken tags in a report template by
rendering it with a complete sample context under a strict Jinja environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kpiflow.problems import DocumentAt, ValidationResult

_TEXT = re.compile(r"<w:t(?: [^>]*)?>([^<]*)</w:t>")


def sample_context(tpl: Any) -> dict[str, Any]:
    """Every variable the report provides, with example values: a sample quarter's report context,
    built by the same code as a real one (``kpiflow.report.context.sample_snapshot``), so the list
    cannot drift from what the report gives a template."""
    import datetime as dt

    from kpiflow.report.context import build_context, sample_snapshot
    from kpiflow.report.word import template_variables
    from kpiflow.settings import Rules

    context = build_context(sample_snapshot(), "Council", Rules(), dt.date(2017, 10, 14), charts=False)
    return template_variables(context)


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

    from kpiflow.report.word import jinja_env

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
