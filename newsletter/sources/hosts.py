"""Which hosts are public: the check behind every redirect the fetcher follows (SSRF).

A feed on the internet must not be able to send the fetcher to an address inside the machine or
its network (a redirect to `http://127.0.0.1:8080/admin` or to the cloud's metadata service)
and have what it finds there reach an email. A host is public when it is, or resolves only to,
global unicast addresses: not loopback, private (RFC 1918), unique-local, link-local, shared
(CGNAT), multicast, unspecified, reserved or a known cloud-metadata address, in IPv4 or IPv6,
including IPv6 forms that embed such an IPv4 address. Numeric host forms are read as the C
library reads them (`127.1`, `2130706433`, `0x7f000001`, `017700000001`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack (link-local anyway)
        "169.254.170.2",  # AWS ECS task metadata
        "168.63.129.16",  # Azure WireServer: a public address
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[..., list[Any]]  # socket.getaddrinfo's signature and answer


def is_public_host(host: str, resolve: Resolver = socket.getaddrinfo) -> bool:
    """True when `host` is, or resolves only to, public addresses; a name that cannot be
    resolved is not public."""
    name = host.strip("[]")
    literal = _literal(name)
    if literal is not None:
        return is_public_address(literal)
    try:
        infos = resolve(name, None, 0, socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    except (OSError, UnicodeError, ValueError, IndexError, TypeError):
        return False
    return bool(addresses) and all(is_public_address(address) for address in addresses)


def _literal(name: str) -> Address | None:
    """The address a numeric host names, in any form the C library accepts, else None."""
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except (OSError, ValueError):
        return None


def is_public_address(address: Address) -> bool:
    """False for every address a fetch from the internet must not be sent to (module doc)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo:
            embedded = address.teredo[1]
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    special = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return address.is_global and not special and address not in METADATA_ADDRESSES
