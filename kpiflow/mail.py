"""Messages of the returns cycle (section 18): addresses, composing, SMTP and .eml delivery.

A message is stored (``Store.queue_message``) with its Message-ID before it is sent, and marked
sent only once the mail server has taken it, so:

- a run killed between sending and recording sends that one message again, with the same
  Message-ID (mail programs show it once); no other message is repeated or lost;
- each message is claimed before it is sent (``kpiflow.claims``: a file lock with SQLite, a lock
  in the database with PostgreSQL, so it holds across hosts), and the claim lapses with the process
  holding it however it ends: two senders never send the same message, and one killed mid-send
  leaves its message to the next run;
- an SMTP failure leaves the message queued: the next run sends just what is left.

Text comes from Jinja2 templates: the shipped ones in ``kpiflow/skeleton/doc_templates/mail/``,
each overridden by a file of the same name in the working folder's ``doc_templates/mail/``. Every
message has a plain-text body and an HTML alternative. No header takes a user's text with a line
break in it: names are cleaned and addresses checked before they come near a header.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpiflow.addresses import header_text, valid_address
from kpiflow.errors import KpiflowError
from kpiflow.settings import Settings
from kpiflow.store import Message

if TYPE_CHECKING:
    import smtplib
    from email.message import EmailMessage


SMTP_TIMEOUT_SECONDS = 30.0
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

class MailError(KpiflowError):
    """The mail server could not be used (refused, timed out, failed the login or showed a bad
    certificate): the command exits 1, and what was not sent stays queued."""

    exit_code = 1


def _unique(addresses: Sequence[str], not_in: Sequence[str] = ()) -> list[str]:
    seen = {a.casefold() for a in not_in}
    out = []
    for a in addresses:
        if valid_address(a) and a.casefold() not in seen:
            seen.add(a.casefold())
            out.append(a)
    return out


def make_message_id(settings: Settings) -> str:
    from email.utils import make_msgid

    domain = settings.mail.sender.rsplit("@", 1)[1] if "@" in settings.mail.sender else "kpiflow.invalid"
    return make_msgid("kpiflow", domain=domain)


# -- composing ------------------------------------------------------------------------------------
def template_dirs(settings: Settings) -> list[Path]:
    """Where message templates are looked for: the working folder's first, then the shipped ones."""
    from kpiflow.init import skeleton_file

    return [settings.mail_templates_dir, skeleton_file("doc_templates/mail")]


_ENVIRONMENTS: dict[tuple[tuple[str, ...], bool], Any] = {}


def _environment(settings: Settings, html: bool) -> Any:
    """One Jinja2 environment per template folders and kind, so each template is compiled once a
    run (its loader still notices a template edited meanwhile)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    key = (tuple(str(d) for d in template_dirs(settings)), html)
    if key in _ENVIRONMENTS:
        return _ENVIRONMENTS[key]
    _ENVIRONMENTS[key] = env = Environment(loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_dirs(settings)]),
                       undefined=StrictUndefined, autoescape=html, keep_trailing_newline=True,
                       trim_blocks=True, lstrip_blocks=True)
    return env


def render(settings: Settings, name: str, context: dict[str, Any]) -> tuple[str, str]:
    """The message's plain text and its HTML alternative, from the templates ``name``.txt and ``name``.html."""
    from jinja2 import TemplateError

    out = []
    for html, ext in ((False, "txt"), (True, "html")):
        try:
            out.append(_environment(settings, html).get_template(f"{name}.{ext}").render(**context))
        except TemplateError as exc:
            raise KpiflowError(f"The message template {name}.{ext} cannot be used ({type(exc).__name__}: {exc}). "
                               f"Correct it in {settings.mail_templates_dir}, or delete it there to use the shipped "
                               "one.") from exc
    return out[0], out[1]


@dataclass(frozen=True)
class Attachment:
    path: Path
    name: str


def build(settings: Settings, m: Message, text: str, html: str, attachments: Sequence[Attachment] = (),
          date: dt.datetime | None = None) -> EmailMessage:
    """The RFC 5322 message: headers from checked addresses and cleaned names only."""
    from email.message import EmailMessage
    from email.utils import format_datetime

    msg = EmailMessage()
    msg["From"] = settings.mail.sender or "kpiflow@kpiflow.invalid"
    to = _unique(m.to)
    cc = _unique(m.cc, to)
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = header_text(m.subject)
    msg["Date"] = format_datetime((date or dt.datetime.now(dt.UTC)).astimezone())
    msg["Message-ID"] = m.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for a in attachments:
        data = a.path.read_bytes()
        if len(data) > MAX_ATTACHMENT_BYTES:
            continue
        maintype, subtype = _mime(a.path)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=header_text(a.name))
    return msg


def _mime(path: Path) -> tuple[str, str]:
    return {".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ".txt": ("text", "plain")}.get(path.suffix.lower(), ("application", "octet-stream"))


# -- delivery -------------------------------------------------------------------------------------
class Delivery:
    """One SMTP session for a batch: connected when the first message goes, STARTTLS and login
    as the settings say. Every failure is a MailError naming the server, never the password."""

    def __init__(self, settings: Settings) -> None:
        self.mail = settings.mail
        self.server = f"{self.mail.host}:{self.mail.port}"
        self._smtp: smtplib.SMTP | None = None

    def _fail(self, what: str, exc: BaseException) -> MailError:
        detail = _describe(exc)
        return MailError(f"The mail server {self.server} {what}: {detail}. Nothing unsent was recorded as sent; "
                         "run kpiflow chase --send again to send what is left.")

    def open(self) -> smtplib.SMTP:
        import smtplib

        if self._smtp is not None:
            return self._smtp
        if not self.mail.host:
            raise KpiflowError("[mail] host is blank in kpiflow.toml, so kpiflow cannot send. Set host (and from), or "
                               "use --eml to write the messages as files for Outlook.")
        try:
            smtp = smtplib.SMTP(self.mail.host, self.mail.port, timeout=SMTP_TIMEOUT_SECONDS)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail("could not be reached", exc) from None
        try:
            smtp.ehlo()
            if self.mail.starttls:
                try:
                    smtp.starttls(context=ssl.create_default_context())
                except smtplib.SMTPNotSupportedError:
                    raise MailError(f"The mail server {self.server} does not offer STARTTLS, and [mail] starttls = "
                                    "true. Use the server's submission port (587), or set starttls = false for a "
                                    "relay on this host.") from None
                except (ssl.SSLError, ssl.CertificateError) as exc:
                    raise self._fail("showed a certificate kpiflow cannot trust", exc) from None
                smtp.ehlo()
            if self.mail.username:
                try:
                    smtp.login(self.mail.username, self.mail.password)
                except smtplib.SMTPAuthenticationError as exc:
                    raise MailError(f"The mail server {self.server} refused the login for {self.mail.username} "
                                    f"({_describe(exc)}). Check [mail] username in kpiflow.toml and the password in "
                                    "KPIFLOW_SMTP_PASSWORD.") from None
        except MailError:
            _close(smtp)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            raise self._fail("failed", exc) from None
        self._smtp = smtp
        return smtp

    def send(self, msg: EmailMessage) -> None:
        """Send one message. A refusal of this message alone (4xx or 5xx to its sender, recipients
        or text) is a :class:`MessageRefused`; a lost server, a MailError."""
        import smtplib

        smtp = self.open()
        try:
            refused = smtp.send_message(msg)
        except smtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            raise self._fail("closed the connection", exc) from None
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            code = getattr(exc, "smtp_code", 0) or _first_code(exc)
            if code == 421:
                self.close()
                raise self._fail("closed the session", exc) from None
            _reset(smtp)
            raise MessageRefused(_describe(exc)) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise self._fail("failed part-way", exc) from None
        if refused:
            # some recipients refused: the others have it, so it counts as sent; the refusals are kept
            raise PartlyRefused("; ".join(f"{a}: {c} {_text(t)}" for a, (c, t) in refused.items()))

    def close(self) -> None:
        if self._smtp is not None:
            _close(self._smtp)
            self._smtp = None

    def __enter__(self) -> Delivery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MessageRefused(Exception):
    """The server refused this one message; the session goes on."""


class PartlyRefused(Exception):
    """The server took the message for some recipients and refused others."""


def _text(v: object) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _first_code(exc: BaseException) -> int:
    recipients = getattr(exc, "recipients", None)
    if isinstance(recipients, dict) and recipients:
        first = next(iter(recipients.values()))
        return int(first[0])
    return 0


def _describe(exc: BaseException) -> str:
    """An SMTP or network error in words: the server's code and text, or the system's message."""
    code = getattr(exc, "smtp_code", None)
    if code is not None:
        return f"{code} {header_text(_text(getattr(exc, 'smtp_error', '')))}"
    recipients = getattr(exc, "recipients", None)
    if isinstance(recipients, dict) and recipients:
        return "; ".join(f"{a}: {c} {header_text(_text(t))}" for a, (c, t) in recipients.items())
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return header_text(str(exc)) or type(exc).__name__


def _reset(smtp: smtplib.SMTP) -> None:
    import smtplib

    with contextlib.suppress(OSError, smtplib.SMTPException):
        smtp.rset()


def _close(smtp: smtplib.SMTP) -> None:
    import smtplib

    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            smtp.close()


# -- the queue ------------------------------------------------------------------------------------
def holder_name() -> str:
    """Who holds a claim: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def write_eml(folder: Path, name: str, msg: EmailMessage) -> Path:
    """Write a message as an RFC 5322 .eml file (Outlook opens it), under a name no file has."""
    from email.policy import SMTP

    from kpiflow.filing import safe_name, unique_path, write_new

    folder.mkdir(parents=True, exist_ok=True)
    while True:
        dest = unique_path(folder, safe_name(name))
        if write_new(dest, msg.as_bytes(policy=SMTP)):
            return dest
