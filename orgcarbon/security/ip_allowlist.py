"""IP allowlists per role and per user (spec 8.2.1.1: control by IP address).

A list is text: addresses and CIDR networks, IPv4 or IPv6, separated by commas, spaces or new
lines (``10.0.0.0/8, 192.168.1.20, 2001:db8::/32``). A user may sign in and work from an address
when

* the user's own list (``sec_user_security.allowed_ips``), if set, contains it, **and**
* if any of the user's roles has a list (``sec_role_security``), at least one of those lists
  contains it (roles without a list add no restriction).

The client address is ``request.remote_addr``: behind a reverse proxy set ``TRUSTED_PROXY_HOPS``
so that it is taken from ``X-Forwarded-For`` (never trusted by default).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.security.models import RoleSecurity, UserSecurity

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SEPARATORS = re.compile(r"[\s,;，；]+")


class IpListError(ValueError):
    """A list entry is not an address or network; the message is Chinese and names it."""


def parse_ip_list(text: str | None) -> tuple[Network, ...]:
    """The networks of a list (an address is a /32 or /128 network); raises ``IpListError``."""
    networks: list[Network] = []
    for entry in _SEPARATORS.split(text or ""):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise IpListError(f"“{entry}” 不是有效的 IP 地址或网段（例如 192.168.1.20、10.0.0.0/8、2001:db8::/32）") from None
    return tuple(networks)


def normalise_ip_list(text: str | None) -> str | None:
    """The list written one way (``a, b/24``), or None when empty; raises ``IpListError``."""
    networks = parse_ip_list(text)
    if not networks:
        return None
    return ", ".join(
        str(n.network_address) if n.num_addresses == 1 else str(n) for n in networks
    )


def contains(networks: Iterable[Network], address: str | None) -> bool:
    """True when ``address`` lies in one of ``networks`` (IPv4-mapped IPv6 counts as IPv4)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


@dataclass(frozen=True)
class IpDecision:
    """Whether an address may be used, and which list refused it."""

    allowed: bool
    refused_by: str | None = None  # "user" | "role"


def decide(address: str | None, user_list: str | None, role_lists: Iterable[str | None]) -> IpDecision:
    """Apply the rule above; malformed stored lists refuse (fail closed)."""
    try:
        own = parse_ip_list(user_list)
        roles = [parse_ip_list(text) for text in role_lists]
    except IpListError:
        return IpDecision(False, "user")
    if own and not contains(own, address):
        return IpDecision(False, "user")
    restricted = [networks for networks in roles if networks]
    if restricted and not any(contains(networks, address) for networks in restricted):
        return IpDecision(False, "role")
    return IpDecision(True)


def decide_for_user(session: Session, user: Any, address: str | None) -> IpDecision:
    """The decision for ``user`` at ``address`` from the stored lists."""
    own = session.get(UserSecurity, user.id)
    role_ids = [role.id for role in getattr(user, "roles", ()) or ()]
    role_lists = (
        session.scalars(select(RoleSecurity.allowed_ips).where(RoleSecurity.role_id.in_(role_ids))).all()
        if role_ids else []
    )
    return decide(address, own.allowed_ips if own else None, role_lists)
