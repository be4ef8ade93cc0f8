"""URL normalisation and canonicalisation: one article, one URL, one `article_id`.

This module owns URL syntax. `resolve_url` makes a link absolute and spells it one way, as
discovery hands it to the fetcher (its query as written). `normalize_url` also makes equal
the spellings of one URL that differ only in tracking parameters or parameter order.
`canonical_url` goes further and maps the variants a site serves of one article (its
declared canonical, AMP and print views) onto the article's own URL. `article_id` is a
digest of that canonical URL.

All four are pure: no network, no clock, no environment.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that identify a click, a campaign or a mailing, never the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "cmpid",
        "ocid",
        "ncid",
        "smid",
        "sr_share",
        "ref_src",
        "ref_url",
        "fb_ref",
        "fb_source",
        "spm",
        "share",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
    }
)
TRACKING_PREFIXES = ("utm_", "_hs", "pk_", "mtm_", "hsa_", "stm_")

# Query parameters that select the AMP or print rendering of the same article.
VARIANT_PARAMS: dict[str, frozenset[str] | None] = {
    # name -> values that mark a variant (None: any value does)
    "amp": None,
    "outputtype": frozenset({"amp"}),
    "print": None,
    "printable": None,
    "output": frozenset({"print", "amp"}),
    "view": frozenset({"print", "amp"}),
    "format": frozenset({"print", "amp"}),
}
VARIANT_SEGMENTS = frozenset({"amp", "print"})
AMP_CACHE_SUFFIX = ".cdn.ampproject.org"

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PATH_SAFE = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
# In a query component `&` and `=` separate parameters: a literal one inside a name or value
# stays escaped. `+` is kept as written (form encoding reads it as a space).
_QUERY_SEPARATORS = frozenset("&=")
_QUERY_SAFE = (_UNRESERVED | _SUB_DELIMS | frozenset(":@/?")) - _QUERY_SEPARATORS
_HEX = frozenset("0123456789abcdefABCDEF")
_HOST_RE = re.compile(
    r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$"
)


def normalize_url(url: str) -> str:
    """Return the normal spelling of an absolute http(s) URL.

    Lowercases scheme and host, encodes an internationalised host with IDNA, drops userinfo,
    the default port, the fragment and tracking parameters (`utm_*`, `fbclid`, `gclid`, ...),
    normalises percent-encoding and dot segments in the path, and sorts the remaining query
    parameters. Idempotent: `normalize_url(normalize_url(u)) == normalize_url(u)`.

    Raises ValueError, and only ValueError, when `url` is not an absolute http(s) URL with a
    valid host and port.
    """
    return _spell(url.strip(), url, lambda query: _normalize_query(query, drop=_is_tracking))


def resolve_url(raw: str, base: str | None = None) -> str:
    """Return the absolute URL a link names, in one spelling, as it is to be fetched.

    `raw` is resolved against `base` (when given), then spelled as `normalize_url` spells it
    (scheme, host, port, percent-encoding, dot segments; no userinfo, no fragment) except for
    the query, which keeps every parameter in its order: tracking parameters and parameter
    order can matter to the server, and discovery must not rewrite what it fetches.
    Idempotent, and `normalize_url(resolve_url(u)) == normalize_url(u)` for absolute `u`.

    Raises ValueError, and only ValueError, when the result is not an absolute http(s) URL
    with a valid host and port.
    """
    text = raw.strip()
    if base:
        text = urljoin(base.strip(), text)
    return _spell(text, raw, _keep_query)


def _spell(text: str, given: str, query: Callable[[str], str]) -> str:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # unbalanced brackets, a bad IP in them, a bad port
        raise ValueError(f"not a valid URL: {given!r} ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {given!r}")
    host = _normalize_host(parts.hostname or "", given, literal="[" in parts.netloc)
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _remove_dot_segments(_normalize_escapes(parts.path, _PATH_SAFE)) or "/"
    return urlunsplit((scheme, netloc, path, query(parts.query), ""))


def _keep_query(query: str) -> str:
    """The query with normalised escapes; its parameters, their order and separators kept."""
    return _normalize_escapes(query, _QUERY_SAFE | _QUERY_SEPARATORS)


def canonical_url(url: str, *, declared: str | None = None) -> str:
    """Return the URL that names the article behind `url`.

    `declared` is what the page says of itself (`rel=canonical`, `og:url`), relative or
    absolute; it is used when it is a sane http(s) URL on the same site (the host up to
    `www.`, `m.`, `amp.`, and the same port) that is not the site's home page. AMP (`/amp/`,
    `?amp=1`, `amp.` host, the AMP cache) and print (`/print/`, `?print=1`, `output=print`)
    variants are then mapped to the article. The result is normalised (see `normalize_url`).
    Raises ValueError when `url` itself is not a valid URL.
    """
    base = normalize_url(url)
    chosen = base
    if declared and declared.strip():
        try:
            candidate = normalize_url(urljoin(base, declared.strip()))
        except ValueError:
            pass  # not a URL: ignored, like one on another site
        else:
            if _acceptable_declared(base, candidate):
                chosen = candidate
    return _strip_variants(chosen)


def article_id(canonical: str) -> str:
    """Return the stable identifier of the article at `canonical` (a `canonical_url` result).

    32 hex digits of BLAKE2b over the URL's UTF-8 bytes: the same in every process and run.
    Defined for any str (a page without an http(s) URL keeps its URL as its canonical one),
    lone surrogates included: it never raises.
    """
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def site_key(host: str) -> str:
    """The part of a host that names the site: without `www.`, `m.`, `amp.` or `mobile.`."""
    for prefix in ("www.", "amp.", "m.", "mobile."):
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix) :]
    return host


def _is_tracking(name: str, value: str) -> bool:
    key = name.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _is_variant(name: str, value: str) -> bool:
    key = name.lower()
    if key not in VARIANT_PARAMS:
        return False
    values = VARIANT_PARAMS[key]
    return values is None or value.lower() in values


def _normalize_host(host: str, url: str, *, literal: bool) -> str:
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    if literal:  # "[...]": only an IPv6 address is valid there (userinfo holds no "[")
        try:
            address = ipaddress.IPv6Address(host)  # perhaps with a zone: fe80::1%eth0
        except ValueError as exc:
            raise ValueError(f"not an IPv6 address in brackets: {url!r}") from exc
        return f"[{ipaddress.IPv6Address(address.packed).compressed}]"  # the zone dropped
    host = host.removesuffix(".")  # the root of a fully qualified name
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"host is not valid IDNA: {url!r}") from exc
    host = host.lower()
    if not _HOST_RE.match(host) or len(host) > 253:
        raise ValueError(f"bad host in {url!r}")
    return host


def _normalize_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, uppercase the others, escape unsafe chars."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    segments = path.split("/")
    kept: list[str] = []
    for seg in segments[1:]:  # the path follows an authority: it starts with "/"
        if seg == "..":
            if kept:
                kept.pop()
        elif seg != ".":
            kept.append(seg)
    tail = "/" if segments[-1] in (".", "..") else ""
    return "/" + "/".join(kept) + (tail if kept else "")


def _normalize_query(query: str, *, drop: Callable[[str, str], bool]) -> str:
    pairs: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        name = _normalize_escapes(name, _QUERY_SAFE)
        value = _normalize_escapes(value, _QUERY_SAFE)
        if (not name and not value) or drop(name, value):
            continue
        pairs.append((name, value))
    pairs.sort()
    return "&".join(f"{name}={value}" if value else name for name, value in pairs)


def _acceptable_declared(base: str, candidate: str) -> bool:
    base_parts = urlsplit(base)
    cand_parts = urlsplit(candidate)
    base_host = base_parts.hostname or ""
    cand_host = cand_parts.hostname or ""
    if base_host.endswith(AMP_CACHE_SUFFIX):
        return True  # the AMP cache names the publisher's page; it is never the same host
    if site_key(base_host) != site_key(cand_host) or base_parts.port != cand_parts.port:
        return False  # another site, or another server on the same host
    # A site that declares its home page as every page's canonical is a common template bug.
    return cand_parts.path != "/" or bool(cand_parts.query)


def _strip_variants(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = parts.path
    if host.endswith(AMP_CACHE_SUFFIX):
        unwrapped = _unwrap_amp_cache(path, parts.query)
        if unwrapped is not None:
            return _strip_variants(unwrapped)
    netloc = parts.netloc
    if host.startswith("amp.") and host.count(".") >= 2:
        netloc = netloc[len("amp.") :]
    segments = path.split("/")
    trailing_slash = path.endswith("/")
    inner = [s for s in segments[1:] if s]
    kept = [s for s in inner if s.lower() not in VARIANT_SEGMENTS]
    if kept and kept[-1].lower().endswith(".amp.html"):
        kept[-1] = kept[-1][: -len(".amp.html")] + ".html"
    elif kept and kept[-1].lower().endswith(".amp"):
        kept[-1] = kept[-1][: -len(".amp")]
    if kept != inner:
        path = "/" + "/".join(kept) + ("/" if trailing_slash and kept else "")
    query = _normalize_query(parts.query, drop=_is_variant)
    return normalize_url(urlunsplit((parts.scheme, netloc, path, query, "")))


def _unwrap_amp_cache(path: str, query: str) -> str | None:
    # https://example-com.cdn.ampproject.org/c/s/example.com/a/b -> https://example.com/a/b
    segments = path.split("/")
    if len(segments) < 4 or segments[1] not in ("c", "v", "wp"):
        return None
    rest = segments[2:]
    scheme = "http"
    if rest[0] == "s":
        scheme = "https"
        rest = rest[1:]
    try:  # no host left (`/c/s//a`) is a ValueError; an empty query leaves a `?` it drops
        return normalize_url(f"{scheme}://{'/'.join(rest)}?{query}")
    except ValueError:
        return None
