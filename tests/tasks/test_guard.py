"""The address guard refuses every spelling of a non-public address, before any connection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.guard import BlockedAddress, UnresolvableHost, check_url, normalize_pins


def _no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"the guard resolved {host!r}, which is a numeric address")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://017700000001/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1:8080/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[2002:7f00:1::]/",
    ],
)
def test_non_public_addresses_are_blocked_in_every_spelling(url: str) -> None:
    with pytest.raises(BlockedAddress):
        check_url(url, frozenset(), resolve=_no_dns)


def test_localhost_is_blocked_after_resolution() -> None:
    with pytest.raises(BlockedAddress, match="loopback"):
        check_url("http://localhost:8080/x", frozenset())


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://example.com:70/_x",
        "ftp://example.com/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "http:///no-host",
        "//example.com/relative",
        "http://user:secret@93.184.216.34/",
        "http://[::1/",
    ],
)
def test_other_schemes_and_malformed_urls_are_blocked(url: str) -> None:
    with pytest.raises(BlockedAddress):
        check_url(url, frozenset(), resolve=_no_dns)


def test_a_name_resolving_to_a_private_address_is_blocked() -> None:
    with pytest.raises(BlockedAddress, match="private"):
        check_url("http://intranet.example/", frozenset(), resolve=lambda h, p: ["10.1.2.3"])


def test_a_name_with_one_private_address_among_public_ones_is_blocked() -> None:
    resolve = lambda h, p: ["93.184.216.34", "127.0.0.1"]  # noqa: E731
    with pytest.raises(BlockedAddress):
        check_url("http://rebind.example/", frozenset(), resolve=resolve)


def test_public_names_are_pinned_to_the_checked_address() -> None:
    target = check_url(
        "https://News.Example.com/a b?q=1#frag", frozenset(), resolve=lambda h, p: ["93.184.216.34"]
    )
    assert target.address == "93.184.216.34"
    assert target.host == "news.example.com"
    assert target.port == 443
    assert target.path == "/a%20b?q=1"
    assert target.host_header == "news.example.com"


def test_public_literal_addresses_need_no_resolution() -> None:
    target = check_url("http://[2606:4700:4700::1111]:8080/", frozenset(), resolve=_no_dns)
    assert target.address == "2606:4700:4700::1111"
    assert target.host_header == "[2606:4700:4700::1111]:8080"


def test_allowance_covers_exactly_the_listed_netloc() -> None:
    allowed = frozenset({"127.0.0.1:8123"})
    assert check_url("http://127.0.0.1:8123/", allowed).address == "127.0.0.1"
    with pytest.raises(BlockedAddress):
        check_url("http://127.0.0.1:8124/", allowed)
    with pytest.raises(BlockedAddress):
        check_url("http://localhost:8123/", allowed)
    with pytest.raises(BlockedAddress):
        check_url("http://0x7f000001:8123/", allowed)


@pytest.mark.parametrize(
    "url", ["http://localhost/", "http://daily-courier.localhost:8080/", "https://a.b.LOCALHOST./"]
)
def test_localhost_names_are_loopback_without_asking_a_resolver(url: str) -> None:
    with pytest.raises(BlockedAddress, match="loopback"):
        check_url(url, frozenset(), resolve=_no_dns)


def test_a_pinned_host_goes_to_its_pinned_address_and_keeps_its_name() -> None:
    pins = normalize_pins({"daily-courier.localhost": ("127.0.0.1", 28470)})
    target = check_url(
        "http://Daily-Courier.localhost/a", frozenset(), resolve=_no_dns, pinned=pins
    )
    assert (target.address, target.connect_port) == ("127.0.0.1", 28470)
    assert (target.host, target.port) == ("daily-courier.localhost", 80)
    assert target.host_header == "daily-courier.localhost"
    assert target.netloc == "daily-courier.localhost:80"


def test_a_pin_covers_exactly_its_host_and_port() -> None:
    pins = normalize_pins({"news.localhost:8080": ("127.0.0.1", 9), "plain.example": ("::1", 9)})
    assert check_url("http://news.localhost:8080/", pinned=pins, resolve=_no_dns).address
    assert check_url("https://plain.example/", pinned=pins, resolve=_no_dns).address == "::1"
    for url in ("http://news.localhost/", "http://news.localhost:8081/"):
        with pytest.raises(BlockedAddress):
            check_url(url, pinned=pins, resolve=_no_dns)
    with pytest.raises(BlockedAddress):  # a pin is no allowance for the address it names
        check_url("http://127.0.0.1:9/", pinned=pins, resolve=_no_dns)


def test_unresolvable_names_are_reported_as_such() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise UnresolvableHost(host)

    with pytest.raises(UnresolvableHost):
        check_url("http://nowhere.invalid/", frozenset(), resolve=fail)


@given(st.text(max_size=80))
def test_any_text_is_either_checked_or_refused_with_a_documented_error(text: str) -> None:
    def resolve(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34"]

    outcomes: list[object] = []
    for _ in range(2):
        try:
            outcomes.append(check_url(text, frozenset(), resolve=resolve))
        except BlockedAddress as exc:
            outcomes.append(exc.reason)
    assert outcomes[0] == outcomes[1]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_decimal_spelling_of_an_ipv4_address_is_judged_by_its_value(value: int) -> None:
    import ipaddress

    address = ipaddress.IPv4Address(value)
    spellings = [str(value), hex(value), str(address)]
    public = address.is_global and not address.is_multicast and not address.is_reserved
    for spelling in spellings:
        if public:
            assert check_url(f"http://{spelling}/", frozenset(), resolve=_no_dns).address == str(
                address
            )
        else:
            with pytest.raises(BlockedAddress):
                check_url(f"http://{spelling}/", frozenset(), resolve=_no_dns)
