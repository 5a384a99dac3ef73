"""Which network addresses a URL may reach, decided in one place for every fetch (URLs given to `add`,
the bot, feeds, sitemaps, the HTTP API).

Internal addresses (loopback, private, link-local, metadata) are refused by default, for the URL itself,
every address its host name resolves to, every redirect and the address actually connected to.
``CITEBOT_ALLOW_PRIVATE_URLS`` opens all private space (``true``) or only listed CIDRs and hosts
(``10.0.0.0/8,intranet.local``); link-local addresses and the cloud metadata endpoints stay refused
whatever it says (an intranet page must not redirect the fetcher to the credentials service), unless
listed in the separate ``CITEBOT_ALLOW_METADATA_URLS``. Every spelling of an address is reduced to one
IPv4/IPv6 value before the check: decimal, hex and octal IPv4 (``2852039166``, ``0xa9fea9fe``,
``0251.0376.0251.0376``), IPv4-mapped, -compatible, NAT64 and 6to4 IPv6, fullwidth digits (IDNA).
"""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Iterable

from retrieval.errors import UserError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

HINT = "set CITEBOT_ALLOW_PRIVATE_URLS=true (or a list of CIDRs and hosts) to fetch internal addresses"
METADATA_HINT = ("refused even with CITEBOT_ALLOW_PRIVATE_URLS; list it in CITEBOT_ALLOW_METADATA_URLS "
                 "to fetch it")

# Well-known cloud metadata endpoints (instance credentials live there), by provider.
METADATA_ADDRESSES: dict[Address, str] = {
    ipaddress.ip_address("169.254.169.254"): "AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle",
    ipaddress.ip_address("169.254.170.2"): "AWS ECS task metadata",
    ipaddress.ip_address("fd00:ec2::254"): "AWS over IPv6",
    ipaddress.ip_address("fd20:ce::254"): "GCP over IPv6",
    ipaddress.ip_address("100.100.100.200"): "Alibaba Cloud",
    ipaddress.ip_address("192.0.0.192"): "Oracle Cloud",
}
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.internal"})
LINK_LOCAL: tuple[Network, ...] = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def unwrap(ip: Address) -> Address:
    """The IPv4 address an IPv6 spelling carries (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``,
    NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:AABB:CCDD::``, Teredo), else ``ip`` itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):  # NAT64 and IPv4-compatible (not :: or ::1)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def literal(host: str) -> Address | None:
    """The address ``host`` spells, if it is an IP literal in any form a resolver accepts (``[::1]``,
    ``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``), else None (a host name)."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _NUMERIC_V4.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text.rstrip(".")))
        except OSError:
            return None
    return None


def normalise_host(host: str) -> str:
    """``host`` as the resolver and the checks see it: IDNA-encoded (fullwidth ``１２７．０．０．１`` is
    ``127.0.0.1``), lower case, without a trailing dot. Raises UserError for a name IDNA refuses."""
    text = host.strip("[]")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise UserError("not a valid host name (it cannot be IDNA-encoded)") from None
    return text.lower().rstrip(".")


def refusal(ip: Address) -> str | None:
    """Why ``ip`` is internal ("a loopback address", ...), or None for a public address."""
    ip = unwrap(ip)
    always = always_refused(ip)
    if always:
        return always
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def always_refused(ip: Address) -> str | None:
    """Why ``ip`` is refused even when private addresses are allowed: a cloud metadata endpoint or a
    link-local address (169.254.0.0/16, fe80::/10), in any spelling; None otherwise."""
    ip = unwrap(ip)
    if ip in METADATA_ADDRESSES:
        return "the cloud metadata address" if str(ip) == "169.254.169.254" else "a cloud metadata address"
    if any(ip in net for net in LINK_LOCAL if net.version == ip.version):
        return "a link-local address"
    return None


@dataclass(frozen=True)
class AllowList:
    """Networks and host names let through: ``hosts`` match exactly, or as a suffix when written with a
    leading dot (``.corp.example`` admits ``news.corp.example``)."""

    networks: tuple[Network, ...] = ()
    hosts: tuple[str, ...] = ()

    def admits(self, host: str, ip: Address) -> bool:
        name = normalise_host(host) if host else ""
        if any(name == h or (h.startswith(".") and name.endswith(h)) for h in self.hosts):
            return True
        return any(candidate in net for candidate in {ip, unwrap(ip)} for net in self.networks
                   if candidate.version == net.version)

    def __bool__(self) -> bool:
        return bool(self.networks or self.hosts)


def parse_entry(entry: str) -> str:
    """One allow-list entry, checked and normalised: a CIDR or IP (``10.0.0.0/8``, ``fd00::/8``) or a host
    name (``intranet.local``, ``.corp.example``). Raises ValueError with the reason."""
    text = entry.strip()
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    name = text[1:] if text.startswith(".") else text
    try:
        name = normalise_host(name)
    except UserError:
        raise ValueError(f"{entry!r} is neither a CIDR nor a host name") from None
    if not name or len(name) > 253 or not all(_HOST_NAME.match(label) for label in name.split(".")):
        raise ValueError(f"{entry!r} is neither a CIDR nor a host name")
    return ("." if text.startswith(".") else "") + name


def parse_allow_list(entries: Iterable[str]) -> AllowList:
    """An AllowList from entries (see :func:`parse_entry`); raises UserError naming a bad entry."""
    networks: list[Network] = []
    hosts: list[str] = []
    for entry in entries:
        try:
            value = parse_entry(entry)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        try:
            networks.append(ipaddress.ip_network(value))
        except ValueError:
            hosts.append(value)
    return AllowList(tuple(networks), tuple(hosts))


def parse_private_setting(raw: str) -> bool | tuple[str, ...]:
    """CITEBOT_ALLOW_PRIVATE_URLS: ``true``/``false`` (and 1/0, yes/no, on/off) or a comma-separated list
    of CIDRs and hosts, returned normalised. Raises ValueError on a bad entry."""
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return tuple(parse_entry(e) for e in raw.replace(";", ",").split(",") if e.strip())


def parse_metadata_setting(raw: str) -> tuple[str, ...]:
    """CITEBOT_ALLOW_METADATA_URLS: only an explicit list of CIDRs and hosts (never a blanket ``true``)."""
    if raw.strip().lower() in _TRUE:
        raise ValueError("list the CIDRs or hosts to allow (a blanket true is not accepted here)")
    if raw.strip().lower() in _FALSE:
        return ()
    return tuple(parse_entry(e) for e in raw.replace(";", ",").split(",") if e.strip())


@dataclass(frozen=True)
class UrlPolicy:
    """What the URL guard lets through. ``private``: True for all private space (loopback, private
    ranges), or an AllowList of the CIDRs/hosts allowed; ``metadata``: the link-local and metadata
    addresses allowed (empty by default, and not opened by ``private``)."""

    private: bool | AllowList = False
    metadata: AllowList = AllowList()

    @classmethod
    def build(cls, allow_private: bool | str | Iterable[str] = False, allowed_networks: Iterable[str] = (),
              allow_metadata: Iterable[str] = ()) -> "UrlPolicy":
        """From setting values: ``allow_private`` is a bool, a setting string or a list of entries."""
        if isinstance(allow_private, str):
            allow_private = parse_private_setting(allow_private)
        extra = tuple(allowed_networks)
        if allow_private is True:
            private: bool | AllowList = True
        else:
            private = parse_allow_list(tuple(allow_private or ()) + extra)
        return cls(private=private, metadata=parse_allow_list(allow_metadata))

    def check(self, ip: Address, host: str) -> None:
        """Raise UserError when ``ip`` (what ``host`` resolved to) may not be fetched."""
        shown = host if host == str(ip) else f"{host} ({unwrap(ip)})"
        always = always_refused(ip) or ("a cloud metadata host name" if _metadata_name(host) else None)
        if always:
            if self.metadata.admits(host, ip):
                return
            raise UserError(f"refused: {shown} is {always}; {METADATA_HINT}")
        reason = refusal(ip)
        if reason is None or self.private is True:
            return
        if isinstance(self.private, AllowList) and self.private.admits(host, ip):
            return
        raise UserError(f"refused: {shown} is {reason}; {HINT}")

    def check_name(self, host: str) -> None:
        """What can be refused without the resolver: an IP literal in any spelling, a metadata host name."""
        ip = literal(host)
        if ip is not None:
            self.check(ip, host)
        elif _metadata_name(host) and not self.metadata.admits(host, ipaddress.IPv4Address(0)):
            raise UserError(f"refused: {host} is a cloud metadata host name; {METADATA_HINT}")

    def check_host(self, host: str, port: int) -> list[tuple[int, Address, tuple]]:
        """Resolve ``host`` and refuse it if any of its addresses is refused (a name that resolves to one
        public and one private address could be steered to the private one)."""
        self.check_name(host)
        found = resolve(host, port)
        for _, address, _ in found:
            self.check(address, host)
        return found


def _metadata_name(host: str) -> bool:
    try:
        return normalise_host(host) in METADATA_NAMES
    except UserError:
        return False


def resolve(host: str, port: int) -> list[tuple[int, Address, tuple]]:
    """(family, address, sockaddr) for every address of ``host``; an IP literal (in any spelling) resolves
    to itself without asking the resolver."""
    ip = literal(host)
    if ip is not None:
        family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        sockaddr: tuple = (str(ip), port) if ip.version == 4 else (str(ip), port, 0, 0)
        return [(family, ip, sockaddr)]
    try:
        infos = socket.getaddrinfo(normalise_host(host), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"cannot resolve the host name {host} ({getattr(exc, 'strerror', None) or exc})") from None
    out = []
    for family, _, _, _, sockaddr in infos:
        out.append((family, ipaddress.ip_address(sockaddr[0].split("%", 1)[0]), sockaddr))
    return out
