"""Channels other than email, through apprise: DingTalk, WeCom, Feishu, Slack, Telegram, a JSON webhook.

An apprise URL is written in config with its secrets as ``{env:NAME}`` placeholders
(``dingtalk://{env:DINGTALK_TOKEN}/``); they are replaced from the environment only when sending,
so the outbox, the logs and the errors keep the placeholder, never the secret.
"""
from __future__ import annotations

import logging
import os
import re

log = logging.getLogger(__name__)

#: ``{env:NAME}`` in an apprise URL: replaced by the environment variable NAME when sending.
ENV_PLACEHOLDER = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class ChannelError(Exception):
    """A message did not get through a channel (the text names the channel, never its secrets)."""


class MissingSecret(ChannelError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"environment variable {name} is not set (named by {{env:{name}}})")


def env_names(template: str) -> list[str]:
    return ENV_PLACEHOLDER.findall(template)


def expand_env(template: str) -> tuple[str, list[str]]:
    """(the URL with its placeholders replaced, the secret values put in).  MissingSecret when unset."""
    secrets: list[str] = []

    def value(m: re.Match) -> str:
        v = os.environ.get(m.group(1))
        if v is None:
            raise MissingSecret(m.group(1))
        if v:
            secrets.append(v)
        return v

    return ENV_PLACEHOLDER.sub(value, template), secrets


def redact(text: str, secrets: list[str]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def check_url(template: str) -> None:
    """ChannelError when apprise does not know the URL (secrets expanded, so that their shape counts)."""
    import apprise

    url, secrets = expand_env(template)
    if apprise.Apprise.instantiate(url) is None:
        raise ChannelError(f"{template}: not a URL apprise can send to (see its list of services)")


class _Redact(logging.Filter):
    """Takes the secrets out of apprise's own log records (it logs URLs at debug level)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if any(s in msg for s in self.secrets):
            record.msg, record.args = redact(msg, self.secrets), ()
        return True


class AppriseNotifier:
    """Sends one message to one apprise URL per call; raises ChannelError when it does not get through."""

    def send(self, template: str, *, title: str, body: str) -> None:
        import apprise

        url, secrets = expand_env(template)
        apprise_log = logging.getLogger("apprise")
        guard = _Redact(secrets)
        apprise_log.addFilter(guard)
        try:
            notifier = apprise.Apprise()
            if not notifier.add(url):
                raise ChannelError(f"{template}: not a URL apprise can send to")
            with apprise.LogCapture(level=logging.WARNING) as captured:
                ok = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.MARKDOWN)
        finally:
            apprise_log.removeFilter(guard)
        if not ok:
            detail = " ".join(captured.getvalue().split())[:500] or "apprise reported a failure"
            raise ChannelError(redact(f"{template}: {detail}", secrets))
