"""SMS / WeChat template messages: one adapter interface, a sandbox by default.

A real provider (an SMS gateway, WeChat's subscribe-message API) is one class with
``send``, named by ``TRAVELER_MESSAGE_GATEWAY``. Template messages carry a template id
and parameters, never free text, as those providers require.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class TemplateMessage:
    """One template message: which template, to whom, in which language, with what values."""

    channel: str  # "sms" or "wechat"
    recipient: str
    template: str
    language: str
    params: dict[str, str]
    text: str  # the rendered text, for providers (and the sandbox) that take it


class MessageError(Exception):
    """The provider refused or did not answer; the notice is retried."""


class MessageGateway(Protocol):
    def send(self, message: TemplateMessage) -> str:
        """Send; return the provider's message id. Raises MessageError."""


def message_gateway() -> MessageGateway:
    gateway: MessageGateway = import_string(settings.TRAVELER_MESSAGE_GATEWAY)()
    return gateway


def mask_phone(phone: str) -> str:
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "***"


class SandboxMessageGateway:
    """Records the message in the database instead of sending it (demo and tests)."""

    def send(self, message: TemplateMessage) -> str:
        from travelers.models import SandboxMessage

        row = SandboxMessage.objects.create(
            channel=message.channel,
            recipient_masked=mask_phone(message.recipient),
            template=message.template,
            language=message.language,
            body=message.text,
        )
        return f"sandbox-{row.pk}"
