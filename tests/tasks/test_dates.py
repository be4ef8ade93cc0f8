"""Time zones of `tasks.dates`: the zone a page's locale names."""

from __future__ import annotations

import pytest

from tasks.dates import country_zone


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ko_KR", "Asia/Seoul"),
        ("de-AT", "Europe/Vienna"),
        ("nb_NO", "Europe/Oslo"),
        ("de_DE", "Europe/Berlin"),  # Büsingen, its second zone, keeps Berlin's time
        ("ja_JP.UTF-8", "Asia/Tokyo"),
    ],
)
def test_locale_of_a_country_with_one_local_time_names_its_zone(locale: str, expected: str) -> None:
    found = country_zone(locale)
    assert found is not None
    assert found.key == expected


@pytest.mark.parametrize("locale", ["en_US", "es_ES", "pt_BR", "de", "", None, "xx_ZZ", "ko"])
def test_locale_without_a_single_local_time_names_no_zone(locale: str | None) -> None:
    assert country_zone(locale) is None
