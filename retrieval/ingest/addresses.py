"""Which network addresses a URL may reach: internal ones (loopback, private, link-local, metadata) are
refused by default, for the URL itself, every address its host name resolves to, and every redirect."""
from __future__ import annotations

import ipaddress
import socket
from typing import Sequence

from retrieval.errors import UserError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA = ipaddress.ip_address("169.254.169.254")
HINT = "set CITEBOT_ALLOW_PRIVATE_URLS=true to fetch internal addresses"


def refusal(ip: Address) -> str | None:
    """Why ``ip`` is internal ("a loopback address", ...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip == METADATA:
        return "the cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def parse_networks(networks: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def check_address(ip: Address, host: str, allow_private: bool,
                  allowed: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()) -> None:
    """Raise UserError when ``ip`` (what ``host`` resolved to) may not be fetched."""
    if allow_private or any(ip in net for net in allowed if ip.version == net.version):
        return
    reason = refusal(ip)
    if reason:
        shown = host if host == str(ip) else f"{host} ({ip})"
        raise UserError(f"refused: {shown} is {reason}; {HINT}")


def resolve(host: str, port: int) -> list[tuple[int, Address, tuple]]:
    """(family, address, sockaddr) for every address of ``host``; an IP literal resolves to itself."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"cannot resolve the host name {host} ({getattr(exc, 'strerror', None) or exc})") from None
    out = []
    for family, _, _, _, sockaddr in infos:
        out.append((family, ipaddress.ip_address(sockaddr[0].split("%", 1)[0]), sockaddr))
    return out


def check_host(host: str, port: int, allow_private: bool,
               allowed: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()) -> list[tuple[int, Address, tuple]]:
    """Resolve ``host`` and refuse it if any of its addresses is internal (a name that resolves to one
    public and one private address could be steered to the private one)."""
    addresses = resolve(host, port)
    for _, ip, _ in addresses:
        check_address(ip, host, allow_private, allowed)
    return addresses
