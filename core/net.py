"""The client's address: the TCP peer, or X-Forwarded-For only as far as trusted proxies say.

A client can write any ``X-Forwarded-For`` it likes, so the header is believed only
when the immediate peer is one of ``TRUSTED_PROXIES`` (addresses or CIDR blocks):
then it is read right to left, skipping our own proxies, and the first address that
is not one of them is the client. Throttles and the login lockout key on this value.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted_proxy(address: str) -> bool:
    """Whether ``address`` is one of ``TRUSTED_PROXIES``."""
    parsed = _parse(address)
    if parsed is None:
        return False
    return any(parsed in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: Any) -> str:
    """The client's address for throttles and lockouts (never spoofable past our proxies)."""
    meta = getattr(request, "META", {})
    peer = str(meta.get("REMOTE_ADDR") or "")
    if not peer or not is_trusted_proxy(peer):
        return peer or "unknown"
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    hops = [hop for hop in (h.strip() for h in forwarded.split(",")) if hop]
    client = peer
    for hop in reversed(hops):
        parsed = _parse(hop)
        if parsed is None:
            break  # garbage from further left is the client's own writing: stop here
        client = str(parsed)
        if not is_trusted_proxy(client):
            break
    return client
