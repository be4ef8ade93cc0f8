"""The address guard refuses every spelling of a non-public address, before any connection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.guard import (
    BlockedAddress,
    Resolver,
    UnresolvableHost,
    check_url,
    normalize_pins,
    system_resolver,
)


def _no_dns(host: str) -> Sequence[str]:
    raise AssertionError(f"the guard resolved {host!r}, which is a numeric address")


def _dns(answers: Mapping[str, Sequence[str]]) -> Resolver:
    """A resolver that knows only these names."""

    def resolve(host: str) -> Sequence[str]:
        if host not in answers:
            raise UnresolvableHost(f"{host}: unknown to this test")
        return answers[host]

    return resolve


PUBLIC = "93.184.216.34"


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
    resolve = _dns({"intranet.example": ["10.1.2.3"], "news.example": [PUBLIC]})
    assert check_url("http://news.example/", resolve=resolve).address == PUBLIC
    with pytest.raises(BlockedAddress, match="private"):
        check_url("http://intranet.example/", frozenset(), resolve=resolve)


def test_a_name_with_one_private_address_among_public_ones_is_blocked() -> None:
    resolve = _dns({"rebind.example": [PUBLIC, "127.0.0.1"]})
    with pytest.raises(BlockedAddress):
        check_url("http://rebind.example/", frozenset(), resolve=resolve)


def test_public_names_are_pinned_to_the_checked_address() -> None:
    target = check_url(
        "https://News.Example.com/a b?q=1#frag", resolve=_dns({"news.example.com": [PUBLIC]})
    )
    assert target.address == "93.184.216.34"
    assert target.host == "news.example.com"
    assert (target.port, target.connect_port) == (443, 443)
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
    assert (target.host, target.port, target.path) == ("daily-courier.localhost", 80, "/a")
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
    def fail(host: str) -> Sequence[str]:
        raise UnresolvableHost(host)

    with pytest.raises(UnresolvableHost):
        check_url("http://nowhere.invalid/", frozenset(), resolve=fail)


def test_a_name_without_addresses_is_unresolvable_and_named() -> None:
    with pytest.raises(UnresolvableHost, match=r"^empty\.example: no addresses$"):
        check_url("http://empty.example/", resolve=_dns({"empty.example": []}))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' not allowed"),
        ("//example.com/relative", "scheme '(none)' not allowed"),
        ("http:///no-host", "URL has no host"),
        ("http://user@93.184.216.34/", "URL carries credentials"),
        ("http://:secret@93.184.216.34/", "URL carries credentials"),
        ("http://127.0.0.1/", "127.0.0.1 resolves to loopback address 127.0.0.1"),
        ("http://10.1.2.3/", "10.1.2.3 resolves to private address 10.1.2.3"),
        (
            "http://169.254.169.254/",
            "169.254.169.254 resolves to link-local address 169.254.169.254",
        ),
        ("http://[fe80::1]/", "fe80::1 resolves to link-local address fe80::1"),
        ("http://0.0.0.0/", "0.0.0.0 resolves to unspecified address 0.0.0.0"),
        ("http://[::]/", ":: resolves to unspecified address ::"),
        ("http://[ff02::1]/", "ff02::1 resolves to multicast address ff02::1"),
        ("http://240.0.0.1/", "240.0.0.1 resolves to reserved address 240.0.0.1"),
        ("http://100.64.0.1/", "100.64.0.1 resolves to non-global address 100.64.0.1"),
        ("http://[2001::1]/", "2001::1 resolves to teredo address 2001::1"),
        (
            "http://[::ffff:10.0.0.1]/",
            "::ffff:10.0.0.1 resolves to private address 10.0.0.1 (inside ::ffff:a00:1)",
        ),
    ],
)
def test_a_refusal_says_why_in_one_line(url: str, reason: str) -> None:
    # The reason is what the fetch log and the rejections table show to the operator.
    with pytest.raises(BlockedAddress) as refused:
        check_url(url, resolve=_no_dns)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("url", "prefix"),
    [
        ("http://[::1/", "invalid URL: "),
        ("http://./", "invalid host name: "),
        ("http://。/", "invalid host name: "),
        ("http://a..b.example/", "invalid host name: "),
        (f"http://{'a' * 64}.example/", "invalid host name: "),
    ],
)
def test_malformed_urls_and_host_names_are_refused_as_such(url: str, prefix: str) -> None:
    with pytest.raises(BlockedAddress) as refused:
        check_url(url, resolve=_no_dns)
    assert refused.value.reason.startswith(prefix)


def test_international_names_are_checked_and_sent_in_their_ascii_form() -> None:
    resolve = _dns({"xn--bcher-kva.example": [PUBLIC]})
    target = check_url("http://Bücher.example/", resolve=resolve)
    assert (target.host, target.host_header) == ("xn--bcher-kva.example",) * 2


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://news.example", "/"),
        ("http://news.example?q=1", "/?q=1"),
        (
            "http://news.example/a b/é/%41;v=1,2:x@y!$&'()*+~",
            "/a%20b/%C3%A9/%41;v=1,2:x@y!$&'()*+~",
        ),
        ("http://news.example/p?q=a b&r=é/?x=%41#frag", "/p?q=a%20b&r=%C3%A9/?x=%41"),
    ],
)
def test_the_request_path_escapes_only_what_a_request_line_cannot_carry(
    url: str, path: str
) -> None:
    # Reserved characters and existing escapes reach the server as the URL wrote them.
    assert check_url(url, resolve=_dns({"news.example": [PUBLIC]})).path == path


def test_the_target_keeps_the_url_it_checked() -> None:
    pins = normalize_pins({"paper.example": ("127.0.0.1", 9)})
    resolve = _dns({"news.example": [PUBLIC]})
    assert check_url(" http://news.example/a \n", resolve=resolve).url == "http://news.example/a"
    assert check_url(" http://paper.example/b ", pinned=pins).url == "http://paper.example/b"


@pytest.mark.parametrize(
    "url", ["http://[2606:4700:4700::1111%25eth0]/", "http://93.184.216.34%25a%25b/"]
)
def test_a_zone_index_is_not_part_of_the_address(url: str) -> None:
    address = check_url(url, resolve=_no_dns).address
    assert address in ("2606:4700:4700::1111", PUBLIC)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://[::ffff:93.184.216.34]/", "::ffff:5db8:d822"),
        ("http://[2002:5db8:d822::1]/", "2002:5db8:d822::1"),
    ],
)
def test_a_public_ipv4_address_inside_an_ipv6_one_is_allowed(url: str, address: str) -> None:
    assert check_url(url, resolve=_no_dns).address == address


def test_an_allowance_for_an_ipv6_host_is_written_in_brackets() -> None:
    allowed = frozenset({"[::1]:8123"})
    target = check_url("http://[::1]:8123/", allowed, resolve=_no_dns)
    assert (target.address, target.netloc) == ("::1", "[::1]:8123")
    assert target.host_header == "[::1]:8123"
    with pytest.raises(BlockedAddress):
        check_url("http://[::1]:8124/", allowed, resolve=_no_dns)


def test_a_pin_on_an_ipv6_host_applies_at_the_default_port() -> None:
    pins = normalize_pins({"[2001:db8::5]": ("127.0.0.1", 9)})
    assert list(pins) == ["[2001:db8::5]"]
    target = check_url("http://[2001:db8::5]/", pinned=pins, resolve=_no_dns)
    assert (target.address, target.connect_port) == ("127.0.0.1", 9)
    with pytest.raises(BlockedAddress):
        check_url("http://[2001:db8::5]:8080/", pinned=pins, resolve=_no_dns)


def test_pins_are_keyed_as_urls_spell_their_host() -> None:
    pins = normalize_pins(
        {
            " Daily-Courier.LOCALHOST. ": ("127.0.0.1", 28470),
            "Bücher.example:8080": ("::1", "443"),  # type: ignore[dict-item]  # a port from TOML text
            "[::1]:81": ("127.0.0.1", 65535),
            "low.example": ("10.0.0.1", 1),
        }
    )
    assert pins == {
        "daily-courier.localhost": ("127.0.0.1", 28470),
        "xn--bcher-kva.example:8080": ("::1", 443),
        "[::1]:81": ("127.0.0.1", 65535),
        "low.example": ("10.0.0.1", 1),
    }


@pytest.mark.parametrize(
    ("key", "pin", "message"),
    [
        ("paper.example", ("paper", 80), "pinned host 'paper.example': "),
        ("paper.example", ("127.0.0.1", 0), "pinned host 'paper.example': port 0 out of range"),
        ("paper.example", ("::1", 65536), "pinned host 'paper.example': port 65536 out of range"),
        ("paper.example:x", ("::1", 80), "pinned host 'paper.example:x': "),
        ("paper.example/a", ("::1", 80), "pinned host 'paper.example/a': not a host[:port]"),
        ("paper.example?a", ("::1", 80), "pinned host 'paper.example?a': not a host[:port]"),
        ("me@paper.example", ("::1", 80), "pinned host 'me@paper.example': not a host[:port]"),
        ("", ("::1", 80), "pinned host '': not a host[:port]"),
        ("a..paper.example", ("::1", 80), "pinned host 'a..paper.example': "),
    ],
)
def test_a_bad_pin_is_refused_naming_its_entry(
    key: str, pin: tuple[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=r"^pinned host ") as refused:
        normalize_pins({key: pin})
    assert str(refused.value).startswith(message)


def test_the_system_resolver_answers_for_localhost_and_names_what_it_cannot_resolve() -> None:
    assert {"127.0.0.1", "::1"} & set(system_resolver("localhost"))
    long_label = "a" * 64 + ".example"  # refused by the name encoder: no query leaves the host
    with pytest.raises(UnresolvableHost, match=f"^{long_label}: "):
        system_resolver(long_label)


@given(st.text(max_size=80))
def test_any_text_is_either_checked_or_refused_with_a_documented_error(text: str) -> None:
    def resolve(host: str) -> Sequence[str]:
        return [PUBLIC]

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
