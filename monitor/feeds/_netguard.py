"""The address guard: feeds are fetched from public addresses only, unless a network is allowed.

A feed URL, or a redirect from one, can point anywhere: ``http://127.0.0.1:6379/``, the cloud
metadata service at ``169.254.169.254``, a router on ``192.168.1.1``. A watcher that follows it
fetches from inside the network it runs in (server-side request forgery). So every connection
the fetcher opens goes through `GuardedBackend`, an httpcore network backend that

1. resolves the host name once (``socket.getaddrinfo``),
2. refuses the connection if *any* resolved address is not public (`address_problem`) and not
   inside a network the feed list allows explicitly (`AddressPolicy.allow`), and
3. connects to the vetted IP address itself, so a DNS server that answers differently a moment
   later (DNS rebinding) cannot move the connection somewhere else.

The check runs for every connection, so for the first request and for every redirect hop. TLS
is unaffected: httpcore passes the URL's host name as ``server_hostname`` to ``start_tls``
separately from the address we connect to, so SNI and certificate checks still use the name.

Proxies: a request through an HTTP proxy would connect to the proxy, and the proxy would reach
the internal address for us, so the guarded transport never uses the environment's proxy
settings (``HTTP_PROXY``/``HTTPS_PROXY``).
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Callable, Iterable, Sequence

import attrs
import httpcore
import httpx

from ._guards import feed_error

__all__ = [
    "AddressPolicy",
    "GuardedBackend",
    "IPAddress",
    "IPNetwork",
    "address_problem",
    "guarded_transport",
    "parse_networks",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., Sequence[tuple[typing.Any, ...]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


def address_problem(address: IPAddress) -> str | None:
    """Say why `address` is not a public unicast address (e.g. ``"loopback"``), or None if it is.

    IPv6 addresses that carry an IPv4 address (IPv4-mapped ``::ffff:127.0.0.1``, NAT64
    ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) are judged by the IPv4 address as well:
    Python 3.11 does not call ``::ffff:127.0.0.1`` loopback by itself.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_problem(embedded)
            if inner is not None:
                return f"{inner}, inside the IPv6 address"
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("carrier-grade NAT", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_networks(values: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Parse allowed networks (``"127.0.0.0/8"``, ``"10.1.2.3"``, ``"fd00::/8"``).

    Raises:
        ValueError: a value is not a network, has host bits set, or is a ``/0`` (which would
            allow every address and so switch the guard off).
    """
    out: list[IPNetwork] = []
    for value in values:
        if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
            network = value
        else:
            try:
                network = ipaddress.ip_network(str(value).strip(), strict=True)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not a network like 127.0.0.0/8, 10.1.2.3 or fd00::/8 ({exc})"
                ) from None
        if network.prefixlen == 0:
            raise ValueError(
                f"{str(network)!r} would allow every address and switch the guard off; "
                "list only the internal networks the feeds live on"
            )
        out.append(network)
    return tuple(dict.fromkeys(out))


@attrs.frozen
class AddressPolicy:
    """Which non-public addresses may be connected to: only those inside `allow`.

    Public addresses are always allowed. The default policy allows nothing else.
    """

    allow: tuple[IPNetwork, ...] = ()

    def problem(self, address: IPAddress) -> str | None:
        """Why connecting to `address` is refused under this policy, or None if it is allowed."""
        reason = address_problem(address)
        if reason is None:
            return None
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded_ipv4(address)):
            candidates.append(inner)
        if any(a in net for a in candidates for net in self.allow if a.version == net.version):
            return None
        return reason


class GuardedBackend(httpcore.SyncBackend):
    """An httpcore network backend that connects only to addresses `policy` allows.

    Resolves each host once, refuses the connection with a `FeedError` of kind
    ``blocked_address`` if any resolved address is refused, and otherwise connects to the
    vetted addresses in the resolver's order (never resolving the name again).

    Args:
        policy: the allowed non-public networks.
        resolver: ``socket.getaddrinfo`` or a stand-in with its signature; None looks up
            ``socket.getaddrinfo`` at each call.
    """

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self._resolver = resolver

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve `host` once and return its addresses, or raise if any of them is refused."""
        resolver = self._resolver or socket.getaddrinfo
        try:
            infos = resolver(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
            address = ipaddress.ip_address(text)
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise httpcore.ConnectError(f"{host!r} resolved to no address")
        for address in addresses:
            reason = self.policy.problem(address)
            if reason is not None:
                shown = host if host == str(address) else f"{host!r} ({address})"
                raise feed_error(
                    f"refusing to connect to {shown}, port {port}: a {reason} address; feeds "
                    "are fetched from public addresses only, unless the feed list allows the "
                    "network with `allow_networks:`",
                    "blocked_address",
                )
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first vetted address of `host` that accepts (see the class doc)."""
        last: Exception | None = None
        for address in self.resolve(host, port):
            try:
                # An IP literal: the parent's create_connection does no DNS lookup for it.
                return super().connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Refused: a feed is never fetched over a local socket."""
        raise feed_error("refusing to connect to a Unix socket", "blocked_address")


def guarded_transport(
    policy: AddressPolicy,
    *,
    trust_env: bool,
    limits: httpx.Limits,
    resolver: Resolver | None = None,
) -> httpx.HTTPTransport:
    """An `httpx.HTTPTransport` whose connections go through `GuardedBackend(policy)`.

    httpx 0.28/0.29 take no network backend, so the transport's connection pool is replaced by
    one built with the same settings plus the backend. `trust_env` only decides whether
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are read; proxies from the environment are never used
    (see the module docstring).
    """
    transport = httpx.HTTPTransport(trust_env=trust_env, limits=limits)
    old = getattr(transport, "_pool", None)
    if not isinstance(old, httpcore.ConnectionPool):  # pragma: no cover - an httpx change
        raise RuntimeError("httpx.HTTPTransport no longer keeps an httpcore pool in `_pool`")
    transport._pool = httpcore.ConnectionPool(
        ssl_context=old._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(policy, resolver),
    )
    old.close()
    return transport
