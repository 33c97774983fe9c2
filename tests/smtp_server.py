"""A real SMTP server for the tests and the benchmark (aiosmtpd), on 127.0.0.1 and a free port.

``Recorder`` keeps every message the server accepted (envelope and bytes) and can be told to fail:
refuse a recipient, answer a given message's DATA with a 4xx or 5xx, refuse logins. ``tls_files``
makes a self-signed certificate with ``cryptography`` for the STARTTLS tests.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class LocalController(Controller):  # type: ignore[misc]
    """aiosmtpd's Controller on port 0: the port the system gave is read back before the
    controller checks the server is up (it would otherwise connect to port 0)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)
    data_replies: dict[int, str] = field(default_factory=dict)   # the nth DATA (from 0) -> a reply such as "451 ..."
    refuse_rcpt: set[str] = field(default_factory=set)
    logins: list[tuple[str, str]] = field(default_factory=list)
    password: str = "s3cret-Pa55"
    datas: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse_rcpt:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        n = self.datas
        self.datas += 1
        if n in self.data_replies:
            return self.data_replies[n]
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, pw = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((user, pw))
        return AuthResult(success=pw == self.password, handled=False)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]


def start(recorder: Recorder, tls: ssl.SSLContext | None = None, auth: bool = False) -> LocalController:
    kw: dict[str, Any] = {}
    if tls is not None:
        kw.update(tls_context=tls, require_starttls=True)
    if auth:
        kw.update(authenticator=recorder.authenticate, auth_require_tls=tls is not None)
    c = LocalController(recorder, hostname="127.0.0.1", port=0, **kw)
    c.start()
    return c


def refusing_port() -> int:
    """A local port nothing listens on (bound and closed at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made here."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
