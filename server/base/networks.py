"""Lists of IP networks given in settings: `"10.0.0.5, 172.18.0.0/16, ::1"`."""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(raw: str) -> tuple[Network, ...]:
    """Comma-separated addresses and CIDR networks; a bare address is a /32 (or /128).

    Host bits set (`10.0.0.5/8`) are an error rather than quietly widened: in a list of
    what to trust, a typo must not trust a whole network. Empty: no networks.
    >>> parse_networks("")
    ()
    """
    networks: list[Network] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address or network ({exc})") from None
    return tuple(networks)
