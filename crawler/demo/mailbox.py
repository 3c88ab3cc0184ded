"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives as files.

The demo's alerts go through real SMTP, like production; this mailbox stands in for the
recipient's mail server and writes each message as ``<n>.eml`` (open it in a mail client) and
``<n>.html`` (the HTML part, open it in a browser).
"""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class ReceivedMail:
    subject: str
    recipients: list[str]
    eml: Path
    html: Path | None


@dataclass
class _Handler:
    out_dir: Path
    received: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        raw = envelope.original_content or envelope.content
        msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            n = len(self.received) + 1
            eml = self.out_dir / f"alert-{n:02d}.eml"
            eml.write_bytes(raw)
            html_path = None
            html_part = msg.get_body(preferencelist=("html",))
            if html_part is not None:
                html_path = self.out_dir / f"alert-{n:02d}.html"
                html_path.write_text(html_part.get_content(), encoding="utf-8")
            self.received.append(ReceivedMail(str(msg["Subject"]), list(envelope.rcpt_tos), eml, html_path))
        return "250 Message accepted for delivery"


class Mailbox:
    """``with Mailbox(dir) as box: box.port ...``: an SMTP server on 127.0.0.1 saving to dir."""

    def __init__(self, out_dir: str | Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self._handler = _Handler(self.out_dir)
        self._controller = Controller(self._handler, hostname=host, port=self.port)

    @property
    def received(self) -> list[ReceivedMail]:
        return list(self._handler.received)

    def __enter__(self) -> "Mailbox":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
