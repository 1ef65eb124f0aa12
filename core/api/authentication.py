"""Token authentication that reads the token, its user and the user's staff membership
(with its store, port and agency) in one statement."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.prepared import PreparedObjects

# DRF's own messages, translated by DRF's catalog: called through this name so that
# makemessages does not extract them into ours (core has no catalog of its own).
drf_message = gettext_lazy


# Every authenticated API request runs this read: compiled once per process (core.prepared).
TOKEN_WITH_MEMBERSHIP = PreparedObjects(
    Token,
    lambda key: Token.objects.filter(key=key),
    "key",
    related=(
        "user",
        "user__membership",
        "user__membership__store",
        "user__membership__port",
        "user__membership__agency",
    ),
)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication; the membership every role check reads comes along."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        found = TOKEN_WITH_MEMBERSHIP.objects(key=key)
        if not found:
            raise exceptions.AuthenticationFailed(drf_message("Invalid token."))
        token = found[0]
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(drf_message("User inactive or deleted."))
        return (token.user, token)
