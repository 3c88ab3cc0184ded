"""A real SMTP server on loopback for the tests (aiosmtpd), recording every message it accepts.

It can misbehave the ways real servers do: refuse some recipients (550 at RCPT), or drop the
connection after receiving a message's DATA without answering (the client cannot tell whether the
message arrived).
"""
from __future__ import annotations

import email
import email.policy
import socket
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()  # recipients answered 550 at RCPT
        self.drop_after_data = 0  # this many next messages: stored, then the connection is cut unanswered
        self.auth_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        if self.drop_after_data:
            self.drop_after_data -= 1
            server.transport.close()  # the message is in, the client never hears so
            return "421 closing"
        return "250 Message accepted for delivery"


class _Auth:
    def __init__(self, user: str, password: str, recorder: Recorder) -> None:
        self.user, self.password, self.recorder = user.encode(), password.encode(), recorder

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.recorder.auth_attempts += 1
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (self.user, self.password)
        return AuthResult(success=ok)


@contextmanager
def smtp_server(port: int | None = None, *, user: str | None = None, password: str | None = None,
                recorder: Recorder | None = None):
    """Yield (recorder, port) while an SMTP server listens on 127.0.0.1:port."""
    recorder = recorder or Recorder()
    port = port or free_port()
    kwargs = {}
    if user:
        kwargs = {"authenticator": _Auth(user, password or "", recorder), "auth_require_tls": False,
                  "auth_required": True}
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()
