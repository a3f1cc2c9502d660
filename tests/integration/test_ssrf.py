"""The outbound guard: which addresses a webhook may reach, and that it connects to the
address it checked (resolved once), never following redirects."""

import ipaddress
import socket
from typing import Any

import pytest

from app.services import webhook_http
from app.services.webhook_http import UnsafeUrl, address_allowed, parse_networks, resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "224.0.0.1",
    ],
)
def test_non_public_addresses_refused(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address), [])


def test_public_address_allowed() -> None:
    assert address_allowed(ipaddress.ip_address("93.184.216.34"), [])


def test_allowed_network_lets_loopback_through() -> None:
    allowed = parse_networks(["127.0.0.1/32"])
    assert address_allowed(ipaddress.ip_address("127.0.0.1"), allowed)
    assert not address_allowed(ipaddress.ip_address("127.0.0.2"), allowed)


def test_http_refused_unless_allowed() -> None:
    with pytest.raises(UnsafeUrl):
        resolve("http://127.0.0.1:9/x", allow_http=False, allowed=parse_networks(["127.0.0.1/32"]))


def test_a_name_resolving_to_any_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake(host: str, port: int, **kw: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port)),
        ]

    monkeypatch.setattr(webhook_http.socket, "getaddrinfo", fake)
    with pytest.raises(UnsafeUrl):
        resolve("https://rebind.example.org/", allow_http=False, allowed=[])


def test_resolved_once_and_the_checked_address_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake(host: str, port: int, **kw: Any) -> list[Any]:
        calls.append(host)
        # a rebinding resolver would answer differently the second time
        ip = "93.184.216.34" if len(calls) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(webhook_http.socket, "getaddrinfo", fake)
    target = resolve("https://hooks.example.org/a?b=1", allow_http=False, allowed=[])
    assert target.address == "93.184.216.34" and target.path == "/a?b=1"
    connected: list[Any] = []

    def fake_connect(address: Any, timeout: Any = None) -> Any:
        connected.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(webhook_http.socket, "create_connection", fake_connect)
    with pytest.raises(OSError):
        webhook_http.post(target, b"{}", {}, timeout=1, max_bytes=1024)
    assert connected == [("93.184.216.34", 443)] and calls == ["hooks.example.org"]


def test_redirects_are_not_followed(hw: Any, receiver: Any) -> None:
    from app.services.worker import run_once

    receiver.script = [(302, {"Location": "http://127.0.0.1:1/elsewhere"})]
    sub = hw.subscribe(receiver.url)
    hw.book()
    run_once(hw.sessions)
    assert len(receiver.received) == 1
    [row] = hw.client.get(
        f"/api/v1/webhooks/{sub['id']}/deliveries", headers=hw.housing_admin
    ).json()["items"]
    assert row["status"] == "pending" and row["last_status_code"] == 302
