"""Outbound HTTP for webhooks, guarded against server-side request forgery.

https only unless allowed; the host name is resolved once, every address it resolves to
is checked, and the connection goes to the checked address (no second lookup, so no DNS
rebinding); loopback, private, link-local (cloud metadata), shared and reserved addresses
are refused unless a configured network allows them; redirects are never followed; the
response is read up to a size limit within one deadline.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeUrl(ValueError):
    """A webhook URL that may not be called (the message says why, without the URL)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def parse_networks(values: list[str]) -> list[Network]:
    """The allowed networks of the settings, parsed."""
    return [ipaddress.ip_network(v, strict=False) for v in values]


def address_allowed(address: IPAddress, allowed: list[Network]) -> bool:
    """Whether a webhook may connect to `address`: public, or inside an allowed network."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in allowed if net.version == address.version):
        return True
    return address.is_global and not address.is_multicast


def check_url(url: str, *, allow_http: bool) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of a webhook URL that has an acceptable form."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("The URL is not valid.") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("Webhook URLs must use https.")
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeUrl("The URL needs a host and no credentials.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default, path


def resolve(url: str, *, allow_http: bool, allowed: list[Network]) -> Target:
    """Check a URL and resolve its host once; refuse it if any address is not allowed."""
    scheme, host, port, path = check_url(url, allow_http=allow_http)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl("The host name does not resolve.") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses or not all(address_allowed(a, allowed) for a in addresses):
        raise UnsafeUrl("The host resolves to an address webhooks may not reach.")
    return Target(scheme, host, port, path, str(addresses[0]))


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._ssl = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._ssl)
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, the socket is the checked address.
        self.sock = self._ssl.wrap_socket(sock, server_hostname=self.host)


def post(
    target: Target, body: bytes, headers: dict[str, str], *, timeout: float, max_bytes: int
) -> Response:
    """POST `body` to the checked address; raises OSError on failure or timeout."""
    deadline = time.monotonic() + timeout
    conn: http.client.HTTPConnection = (
        _PinnedHTTPS(target, timeout) if target.scheme == "https" else _PinnedHTTP(target, timeout)
    )
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        reply = conn.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size < max_bytes:
            if time.monotonic() > deadline:
                raise TimeoutError("the receiver took too long")
            chunk = reply.read(min(8192, max_bytes - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return Response(
            reply.status, {k.lower(): v for k, v in reply.getheaders()}, b"".join(chunks)
        )
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP response: {type(exc).__name__}") from exc
    finally:
        conn.close()
