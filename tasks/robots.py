"""robots.txt per RFC 9309: what an answer to `/robots.txt` allows for the rest of a run.

The fetcher fetches `/robots.txt` once per origin and keeps the `Robots` that
`robots_from_answer` makes of the answer:
- 2xx: the rules, parsed from at most the first `robots_max_bytes` (RFC 9309 2.5);
- 4xx (except 429), or a redirect loop or chain too long: unavailable, crawl freely
  (RFC 9309 2.3.1.2 and 2.3.1.3);
- 5xx, 429, a timeout or a network error: unreachable, so nothing is fetched from the origin
  in this run (RFC 9309 2.3.1.4). A failure is never remembered as "allow".
Pure: the answer in, a decision out.
"""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

from tasks.reasons import OK, ReasonCode


@dataclass(frozen=True, slots=True)
class Robots:
    """What robots.txt says for one origin."""

    rules: Protego | None  # None: allow everything (robots.txt 4xx or absent)
    unavailable: bool = False  # robots.txt could not be read: fetch nothing from the origin
    detail: str = ""

    def allows(self, url: str, token: str) -> bool:
        """Whether `url` may be fetched by a crawler whose product token is `token`."""
        if self.unavailable:
            return False
        return self.rules is None or bool(self.rules.can_fetch(url, token))

    @property
    def sitemaps(self) -> tuple[str, ...]:
        """The `Sitemap:` URLs robots.txt lists, as written."""
        return tuple(self.rules.sitemaps) if self.rules is not None else ()

    def crawl_delay(self, token: str) -> float | None:
        """The Crawl-delay (seconds) of the group that applies to `token`, if it sets one."""
        if self.rules is None:
            return None
        delay = self.rules.crawl_delay(token)
        return float(delay) if delay else None


def robots_from_answer(reason: ReasonCode, status: int | None, body: bytes | None) -> Robots:
    """The decision for an origin from the fetch of its robots.txt (a reason code + status)."""
    if reason == OK:
        return Robots(rules=Protego.parse((body or b"").decode("utf-8", "replace")))
    if status is not None and 400 <= status < 500 and status != 429:
        return Robots(rules=None)  # RFC 9309 2.3.1.3: unavailable, crawl freely
    if reason in ("too_many_redirects", "redirect_loop"):
        return Robots(rules=None)  # RFC 9309 2.3.1.2: may be treated as unavailable
    detail = f"robots.txt {reason}" + (f" (status {status})" if status else "")
    return Robots(rules=None, unavailable=True, detail=detail)
