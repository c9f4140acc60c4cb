"""The SSRF guard: a webhook may reach the public internet, and private hosts only by allow-list.

A receiver URL is checked when a key is created and again before every attempt, on
the addresses its host resolves to *then*; the sender connects to the very address
that was checked (the host name still goes in ``Host`` and TLS SNI), so a DNS answer
that changes between check and connect cannot redirect a delivery inside the network.
Plain ``http`` is allowed only for allow-listed targets; public receivers need https.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


class UnsafeUrl(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


@dataclass(frozen=True)
class AllowList:
    """Hosts (exact names) and networks that may be reached even though they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """``"localhost, 127.0.0.0/8, ::1, hooks.internal"`` → an allow-list."""
        hosts, networks = set(), []
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        return host in self.hosts or any(address in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        path = parts.path or "/"
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.scheme}://{literal}:{self.port}{path}{query}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _unmapped(address: IPAddress) -> IPAddress:
    """``::ffff:127.0.0.1`` is 127.0.0.1 to the kernel, so it is judged as that."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _public(address: IPAddress) -> bool:
    address = _unmapped(address)
    return address.is_global and not address.is_multicast


def check(url: str, allow: AllowList, resolve: Resolver = system_resolver) -> Target:
    """The target to connect to for ``url``; :class:`UnsafeUrl` if any resolved address is off-limits."""
    if len(url) > 2048:
        raise UnsafeUrl("webhook URL is longer than 2048 characters")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("webhook URL must start with https:// (or http:// for an allow-listed host)")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UnsafeUrl("webhook URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("webhook URL must not carry credentials; use the webhook key")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("webhook URL has an invalid port") from exc
    try:
        literal = [ipaddress.ip_address(host)]
    except ValueError:
        literal = []
    try:
        addresses = literal or [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
    except (OSError, ValueError) as exc:
        raise UnsafeUrl(f"webhook host {host!r} does not resolve") from exc
    if not addresses:
        raise UnsafeUrl(f"webhook host {host!r} does not resolve")
    allowed = [allow.allows(host, _unmapped(a)) for a in addresses]
    for address, is_allowed in zip(addresses, allowed, strict=True):
        if not is_allowed and not _public(address):
            raise UnsafeUrl(
                f"webhook host {host!r} resolves to {_unmapped(address)}, a private, loopback or "
                "reserved address; allow-list it with SFUMATO_WEBHOOK_ALLOW_HOSTS to use it"
            )
    if scheme == "http" and not all(allowed):
        raise UnsafeUrl("webhook URL must use https:// (plain http is only for allow-listed hosts)")
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, address=addresses[0])
