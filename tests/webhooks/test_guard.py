"""The SSRF guard decides on the addresses a host resolves to, not on how the URL looks."""

from __future__ import annotations

import pytest

from sfumato.webhooks.guard import AllowList, UnsafeUrl, check


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, _port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


DNS = resolver(
    {
        "hooks.example.com": ["93.184.216.34"],
        "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
        "metadata.example.com": ["169.254.169.254"],
        "mapped.example.com": ["::ffff:127.0.0.1"],
        "internal.corp": ["10.20.30.40"],
        "v6.example.com": ["2606:2800:220:1:248:1893:25c8:1946"],
    }
)


def test_public_https_targets_pass_and_are_pinned() -> None:
    target = check("https://hooks.example.com/leonardo?x=1", AllowList(), DNS)
    assert str(target.address) == "93.184.216.34"
    assert target.pinned_url == "https://93.184.216.34:443/leonardo?x=1"
    assert target.host_header == "hooks.example.com"
    v6 = check("https://v6.example.com:8443/", AllowList(), DNS)
    assert v6.pinned_url.startswith("https://[2606:2800:220:1:248:1893:25c8:1946]:8443/")
    assert v6.host_header == "v6.example.com:8443"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://hooks.example.com/", "https"),
        ("https://rebind.example.com/", "10.0.0.7"),
        ("https://metadata.example.com/", "169.254.169.254"),
        ("https://mapped.example.com/", "127.0.0.1"),
        ("https://127.0.0.1/", "127.0.0.1"),
        ("https://[::1]/", "::1"),
        ("https://0.0.0.0/", "0.0.0.0"),
        ("https://nowhere.example.com/", "does not resolve"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("file:///etc/passwd", "https://"),
        ("https:///path-only", "no host"),
        ("https://hooks.example.com:99999/", "port"),
    ],
)
def test_unsafe_targets_are_refused(url: str, fragment: str) -> None:
    with pytest.raises(UnsafeUrl, match=fragment.replace(".", r"\.").replace("/", r"\/")):
        check(url, AllowList(), DNS)


def test_allow_list_opens_named_hosts_and_networks_even_over_http() -> None:
    allow = AllowList.parse(" internal.corp , 127.0.0.0/8, ::1 ")
    assert str(check("http://internal.corp:8080/h", allow, DNS).address) == "10.20.30.40"
    assert str(check("http://127.0.0.1:9000/h", allow, DNS).address) == "127.0.0.1"
    assert check("http://[::1]:9000/h", allow, DNS).pinned_url == "http://[::1]:9000/h"
    with pytest.raises(UnsafeUrl):
        check("https://rebind.example.com/", allow, DNS)  # 10.0.0.7 is not in the list
