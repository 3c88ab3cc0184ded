"""SMTP delivery of one message: plain, SSL (465) or STARTTLS (587), with optional login.

The password is handed in by the caller, read from the environment variable that config names
(alerts.smtp.password_env); it is never stored or logged.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
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

    def __repr__(self) -> str:  # never print the password
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
                f"user={self.user!r}, sender={self.sender!r})")


def build_message(*, sender: str, recipients: list[str], subject: str, text: str, html: str,
                  message_id: str | None = None) -> EmailMessage:
    """multipart/alternative: the plain text first, the HTML as the preferred alternative."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or "nianbao")
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

    def send(self, msg: EmailMessage) -> str:
        """Deliver; returns the Message-ID.  Raises OSError/smtplib.SMTPException on failure."""
        s = self.settings
        with self._connect() as conn:
            if s.user:
                conn.login(s.user, s.password or "")
            refused = conn.send_message(msg)
        if refused:
            log.warning("SMTP %s:%s refused recipients %s", s.host, s.port, sorted(refused))
        return str(msg["Message-ID"])
