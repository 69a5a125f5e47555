"""Where webhooks may connect: public addresses only, unless TRACKER_WEBHOOK_ALLOW_PRIVATE
lists an exception.

Whoever holds an admin key chooses a webhook's URL, and the server POSTs to it from inside
the deployment's network: unchecked, a URL could reach the database, Redis, other services
or the cloud metadata endpoint (server-side request forgery). So the rule is applied twice:

- when a subscription is made, to the URL's host and every address it resolves to (a 422
  names the address), so a mistake is caught while someone is looking;
- at every connection, by the transport itself (`webhook_transport`): it resolves the name,
  refuses when *any* address is not allowed, and connects only to the addresses it checked.
  Resolving and connecting in one step leaves no gap for a name that was public at
  subscription and points inside later (DNS rebinding); refusing a name with any inside
  address, rather than quietly skipping those, makes the refusal visible in the delivery log.

The transport does not follow redirects (the client never does: a 3xx is a failed delivery)
and reads no HTTP(S)_PROXY variables (a proxy would connect on our behalf, unchecked).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Sequence

import httpcore
import httpx

from server.base.networks import Address, Network

# Cloud metadata services, named in refusals (they are link-local/private anyway):
# AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
ALLOW_HINT = "webhooks reach public addresses only; TRACKER_WEBHOOK_ALLOW_PRIVATE lists exceptions"


class RefusedDestination(Exception):
    """The host is, or resolves to, an address webhooks may not reach. Permanent."""


class UnresolvedHost(Exception):
    """The host does not resolve (now). Perhaps temporary."""


def refusal(address: Address, allowed: Sequence[Network]) -> str | None:
    """What kind of address webhooks may not connect to `address` is ("loopback", "private",
    …), or None when they may.

    IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it carries.
    >>> refusal(ipaddress.ip_address("::ffff:10.0.0.1"), [])
    'private'
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    return _kind(address)


def _kind(address: Address) -> str | None:
    if address in METADATA:
        return "a cloud metadata address"
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:
        return "not globally routable"  # e.g. 100.64.0.0/10, carrier-grade NAT
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"  # fec0::/10: deprecated, still private wherever it is used
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        inner = _kind(address.sixtofour)  # 2002::/16 carries an IPv4 address
        return None if inner is None else f"6to4 for {address.sixtofour}, {inner}"
    return None


async def resolve(host: str, timeout_s: float) -> list[Address]:
    """Every address `host` names (an IP literal in any spelling the system resolver reads,
    such as 2130706433 or 0177.0.0.1, names itself), in the resolver's order."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise UnresolvedHost(f"{host} did not resolve within {timeout_s:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedHost(f"{host} does not resolve ({exc})") from None
    addresses: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])  # drop a zone id
        if address not in addresses:
            addresses.append(address)
    return addresses


async def checked_addresses(
    host: str, allowed: Sequence[Network], timeout_s: float
) -> list[Address]:
    """The addresses of `host`, all of which webhooks may reach; else RefusedDestination
    (or UnresolvedHost)."""
    addresses = await resolve(host, timeout_s)
    for address in addresses:
        kind = refusal(address, allowed)
        if kind is not None:
            literal = [address] == addresses and _is_literal(host)
            named = f"{host} is" if literal else f"{host} resolves to {address}, which is"
            raise RefusedDestination(f"{named} {kind} ({ALLOW_HINT})")
    return addresses


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _CheckingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses `checked_addresses` passed.
    TLS still verifies the certificate against the URL's host name (httpcore's SNI)."""

    def __init__(self, allowed: Sequence[Network], resolve_timeout_s: float) -> None:
        self._allowed = tuple(allowed)
        self._resolve_timeout_s = resolve_timeout_s
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await checked_addresses(
                host, self._allowed, timeout or self._resolve_timeout_s
            )
        except UnresolvedHost as exc:
            raise httpcore.ConnectError(str(exc)) from None  # retried like any unreachable host
        options = list(socket_options or ())
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # getaddrinfo never answers with no address
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def webhook_transport(
    allowed: Sequence[Network], resolve_timeout_s: float
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (connection pool, TLS, HTTP/1.1), with `_CheckingBackend`.

    httpx has no parameter for the network backend, so its pool is replaced by one built the
    same way with the backend; the webhook tests fail if httpx ever stops using `_pool`.
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_CheckingBackend(allowed, resolve_timeout_s),
    )
    return transport


def webhook_client(allowed: Sequence[Network], resolve_timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=webhook_transport(allowed, resolve_timeout_s),
        follow_redirects=False,  # a redirect could point anywhere: it is a failed delivery
        trust_env=False,
    )
