"""SMTP delivery of one message: plain, SSL (465) or STARTTLS (587), with optional login.

The password is handed in by the caller, read from the environment variable that config names
(alerts.smtp.password_env); it is never stored or logged, and never sent over a connection without
TLS unless ``allow_plaintext_auth`` says so (a server on this machine).

A send reports which recipients the server accepted and which it refused: a refused recipient is a
failure for that recipient alone (the caller retries it), not a silent success.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

log = logging.getLogger(__name__)


@dataclass
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none | ssl | starttls
    user: str | None = None
    password: str | None = None
    sender: str = "nianbao@localhost"
    timeout: float = 30
    allow_plaintext_auth: bool = False

    def __repr__(self) -> str:  # never print the password
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
                f"user={self.user!r}, sender={self.sender!r})")


class PlaintextAuthRefused(smtplib.SMTPException):
    """AUTH asked for over a connection without TLS (alerts.smtp.allow_plaintext_auth is false)."""


@dataclass
class SendResult:
    message_id: str
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> the server's answer


def new_message_id(sender: str) -> str:
    """A Message-ID for a new alert (made once, kept across its retries)."""
    return make_msgid(domain=sender.rpartition("@")[2] or "nianbao")


def build_message(*, sender: str, recipients: list[str], subject: str, text: str, html: str,
                  message_id: str | None = None) -> EmailMessage:
    """multipart/alternative: the plain text first, the HTML as the preferred alternative."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id or new_message_id(sender)
    msg.set_content(text, charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


class Mailer:
    """Sends messages over one SMTP connection per call (nightly volumes are tiny)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            conn.starttls(context=ssl.create_default_context())
        return conn

    def send(self, msg: EmailMessage, recipients: list[str] | None = None) -> SendResult:
        """Deliver to ``recipients`` (default: the To header).  Raises OSError/smtplib.SMTPException
        when nobody got it (every recipient refused: SMTPRecipientsRefused); a partial refusal is
        in the result."""
        s = self.settings
        to = list(recipients) if recipients is not None else [a.strip() for a in str(msg["To"]).split(",")]
        if s.user and s.security == "none" and not s.allow_plaintext_auth:
            raise PlaintextAuthRefused(
                f"not sending the SMTP password to {s.host}:{s.port} without TLS "
                "(alerts.smtp.security: starttls or ssl, or alerts.smtp.allow_plaintext_auth: true)")
        with self._connect() as conn:
            if s.user:
                conn.login(s.user, s.password or "")
            refused = conn.send_message(msg, to_addrs=to)
        answers = {rcpt: f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
                   for rcpt, (code, text) in (refused or {}).items()}
        if answers:
            log.warning("SMTP %s:%s refused recipients %s", s.host, s.port, sorted(answers))
        return SendResult(message_id=str(msg["Message-ID"]), accepted=[r for r in to if r not in answers],
                          refused=answers)
