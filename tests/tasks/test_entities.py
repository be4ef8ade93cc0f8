"""Linking an article's mentions to entities: short forms, titles, one label per entity."""

from __future__ import annotations

from tasks.entities import (
    combine_tallies,
    entity_id,
    link_mentions,
    resolve_speaker,
    split_title,
    tally_entities,
)
from tasks.records import Mention


def mentions(*items: tuple[str, str]) -> list[Mention]:
    return [
        Mention("a1", text, label, i * 10, i * 10 + len(text))
        for i, (text, label) in enumerate(items)
    ]


def names(linked: tuple[Mention, ...]) -> list[tuple[str, str | None, str]]:
    return [(m.text, m.entity_name, m.label) for m in linked]


def test_a_surname_read_as_a_person_names_a_titled_full_name_read_as_something_else() -> None:
    linked = link_mentions(
        mentions(
            ("Major-Gen Gopaul Govender", "ORG"),
            ("Govender", "PERSON"),
            ("Govender", "PERSON"),
            ("Camp Strava", "ORG"),
            ("Strava", "PERSON"),
        ),
        {("body", 0): "Runners at the camp met Strava's staff."},
    )
    assert names(linked)[:3] == [
        ("Major-Gen Gopaul Govender", "Gopaul Govender", "PERSON"),
        ("Govender", "Gopaul Govender", "PERSON"),
        ("Govender", "Gopaul Govender", "PERSON"),
    ]
    assert linked[0].title == "Major-Gen"
    # no title, and "camp" is a word the article writes in lowercase: not a person's name
    assert names(linked)[4] == ("Strava", "Strava", "PERSON")


def test_a_surname_read_as_a_person_names_a_full_name_read_as_an_organisation() -> None:
    text = "Mason Rudolph of Pittsburgh threw. Blue Moon is a moon trip."
    linked = link_mentions(
        mentions(
            ("Mason Rudolph", "ORG"),
            ("Pittsburgh", "GPE"),
            ("Pittsburgh Steelers", "ORG"),
            ("Blue Moon", "ORG"),
            ("Team Sky", "ORG"),
            ("Make Trump", "WORK_OF_ART"),
            ("LC500 Convertible", "ORG"),
            ("Rudolph", "PERSON"),
            ("Steelers", "PERSON"),
            ("Moon", "PERSON"),
            ("Sky", "PERSON"),
            ("Trump", "PERSON"),
            ("Convertible", "PERSON"),
        ),
        {("body", 0): text},
    )
    assert [(m.entity_name, m.label) for m in linked][7:] == [
        ("Mason Rudolph", "PERSON"),  # and the full name is a person's too
        ("Pittsburgh Steelers", "ORG"),  # a team named after a place the article names
        ("Moon", "PERSON"),  # "moon" is written in lowercase
        ("Sky", "PERSON"),  # an organisation's word
        ("Trump", "PERSON"),  # not read as an organisation
        ("Convertible", "PERSON"),  # a figure in the name
    ]
    assert linked[0].label == "PERSON"


def test_a_surname_names_the_person_whose_full_name_ends_in_a_suffix() -> None:
    linked = link_mentions(
        mentions(("Martin Luther King Jr.", "PERSON"), ("King", "PERSON"), ("King", "ORG"))
    )
    assert {m.entity_name for m in linked} == {"Martin Luther King Jr"}
    assert resolve_speaker("King", linked) is not None


def test_a_surname_and_a_titled_surname_name_the_person_named_in_full() -> None:
    linked = link_mentions(
        mentions(
            ("Vladimir Putin", "PERSON"),
            ("Putin", "PERSON"),
            ("Mr. Putin", "PERSON"),
            ("Putin's", "PERSON"),
        )
    )
    assert {m.entity_name for m in linked} == {"Vladimir Putin"}
    assert len({m.entity_id for m in linked}) == 1
    assert [m.title for m in linked] == [None, None, "Mr.", None]


def test_a_short_form_before_the_full_name_is_linked_too() -> None:
    linked = link_mentions(mentions(("Kim", "PERSON"), ("Kim Jong Un", "PERSON")))
    assert [m.entity_name for m in linked] == ["Kim Jong Un", "Kim Jong Un"]


def test_a_given_name_alone_names_the_person_with_that_given_name() -> None:
    linked = link_mentions(mentions(("Dale Ford", "PERSON"), ("Dale", "PERSON")))
    assert [m.entity_name for m in linked] == ["Dale Ford", "Dale Ford"]


def test_a_surname_read_as_a_place_takes_the_persons_label() -> None:
    linked = link_mentions(
        mentions(("Gordon Sondland", "PERSON"), ("Sondland", "GPE"), ("Sondland", "GPE"))
    )
    assert names(linked) == [
        ("Gordon Sondland", "Gordon Sondland", "PERSON"),
        ("Sondland", "Gordon Sondland", "PERSON"),
        ("Sondland", "Gordon Sondland", "PERSON"),
    ]


def test_a_name_never_carries_two_labels_in_one_article() -> None:
    linked = link_mentions(
        mentions(("Sondland", "GPE"), ("Sondland", "PERSON"), ("Sondland", "GPE"))
    )
    assert {m.label for m in linked} == {"GPE"}  # the label most of its mentions carry
    assert len({m.entity_id for m in linked}) == 1


def test_two_people_sharing_a_surname_each_keep_the_nearest_preceding_one() -> None:
    linked = link_mentions(
        mentions(
            ("Hillary Clinton", "PERSON"),
            ("Clinton", "PERSON"),
            ("Bill Clinton", "PERSON"),
            ("Clinton", "PERSON"),
        )
    )
    assert [m.entity_name for m in linked] == [
        "Hillary Clinton",
        "Hillary Clinton",
        "Bill Clinton",
        "Bill Clinton",
    ]


def test_an_initial_and_a_middle_name_are_the_same_person() -> None:
    linked = link_mentions(
        mentions(("John Smith", "PERSON"), ("J. Smith", "PERSON"), ("John A. Smith", "PERSON"))
    )
    assert len({m.entity_id for m in linked}) == 1


def test_different_first_names_with_one_surname_are_different_people() -> None:
    linked = link_mentions(mentions(("John Smith", "PERSON"), ("Jane Smith", "PERSON")))
    assert len({m.entity_id for m in linked}) == 2


def test_an_acronym_names_the_organisation_whose_initials_it_spells() -> None:
    linked = link_mentions(
        mentions(("the World Health Organization", "ORG"), ("WHO", "ORG"))
    )
    assert [m.entity_name for m in linked] == ["World Health Organization"] * 2


def test_a_title_is_kept_apart_from_the_name() -> None:
    assert split_title("Gov. Kathy Hochul") == ("Kathy Hochul", "Gov.")
    assert split_title("Prime Minister Keir Starmer's") == ("Keir Starmer", "Prime Minister")
    assert split_title("“Kathy Hochul”") == ("Kathy Hochul", None)
    assert split_title("President") == ("President", None)  # a title alone is not cut
    assert split_title("Vice-President Kamala Harris") == ("Kamala Harris", "Vice-President")
    assert split_title("Major-Gen Gopaul Govender") == ("Gopaul Govender", "Major-Gen")
    assert split_title("Jean-Pierre Dupont") == ("Jean-Pierre Dupont", None)
    assert split_title("the U.S.") == ("U.S.", None)  # an abbreviation keeps its stop
    assert split_title("ST. JOSEPH") == ("ST. JOSEPH", None)  # a place's "Saint"
    assert split_title("Acme Corp.,") == ("Acme Corp", None)


def test_entity_ids_depend_on_label_and_name_only_not_on_case() -> None:
    assert entity_id("PERSON", "Vladimir Putin") == entity_id("PERSON", "vladimir  putin")
    assert entity_id("PERSON", "Jordan") != entity_id("GPE", "Jordan")


def test_a_runs_tally_counts_articles_and_spellings_per_source_and_entity() -> None:
    batch = [
        *link_mentions(
            [
                Mention("a1", "Vladimir Putin", "PERSON", 0, 14),
                Mention("a1", "Mr. Putin", "PERSON", 20, 29),
            ]
        ),
        *link_mentions([Mention("a2", "Putin", "PERSON", 0, 5)]),  # no full name in a2
        *link_mentions([Mention("a3", "Vladimir Putin", "PERSON", 0, 14)]),
    ]
    rows = tally_entities(batch, {"a1": "courier", "a2": "courier", "a3": "ledger"})
    full = entity_id("PERSON", "Vladimir Putin")
    assert [(r.source_id, r.entity_id, r.articles, r.mentions) for r in rows] == sorted(
        [
            ("courier", full, 1, 2),
            ("courier", entity_id("PERSON", "Putin"), 1, 1),
            ("ledger", full, 1, 1),
        ]
    )
    courier = next(r for r in rows if r.source_id == "courier" and r.entity_id == full)
    assert courier.aliases == ("Putin",)
    assert courier.entity_name == "Vladimir Putin"


def test_tallies_of_two_batches_combine_into_one_row_per_source_and_entity() -> None:
    first = tally_entities(
        link_mentions([Mention("a1", "Kim Jong Un", "PERSON", 0, 11)]), {"a1": "s"}
    )
    second = tally_entities(
        link_mentions(
            [Mention("a2", "Kim Jong Un", "PERSON", 0, 11), Mention("a2", "Kim", "PERSON", 20, 23)]
        ),
        {"a2": "s"},
    )
    (row,) = combine_tallies([*first, *second])
    assert (row.articles, row.mentions, row.aliases) == (2, 3, ("Kim",))


def test_a_speaker_is_resolved_to_the_entity_it_names_in_any_form() -> None:
    linked = link_mentions(
        mentions(
            ("Vladimir Putin", "PERSON"),
            ("Hillary Clinton", "PERSON"),
            ("Bill Clinton", "PERSON"),
            ("the World Health Organization", "ORG"),
        )
    )
    putin = entity_id("PERSON", "Vladimir Putin")
    for speaker in ("Vladimir Putin", "Mr. Putin", "Putin", "President Vladimir Putin's"):
        found = resolve_speaker(speaker, linked)
        assert found is not None, speaker
        assert (found.entity_id, found.entity_name) == (putin, "Vladimir Putin"), speaker
    who = resolve_speaker("World Health Organization", linked)
    assert who is not None
    assert who.entity_name == "World Health Organization"
    assert resolve_speaker("Clinton", linked) is None  # two people share the name
    assert resolve_speaker("Angela Merkel", linked) is None  # not in the article
    assert resolve_speaker("", linked) is None


def test_a_one_word_possessive_loses_its_ending_and_a_lone_the_stays() -> None:
    assert split_title("Putin's") == ("Putin", None)
    assert split_title("Putin’s") == ("Putin", None)
    assert split_title("Paris") == ("Paris", None)
    assert split_title("The") == ("The", None)
    assert split_title("the Kremlin") == ("Kremlin", None)
    assert split_title("Gov., Kathy Hochul") == ("Kathy Hochul", "Gov.,")
    assert split_title("Kathy Hochul,") == ("Kathy Hochul", None)


def test_full_names_with_one_first_name_but_different_surnames_are_different_people() -> None:
    linked = link_mentions(mentions(("John Smith", "PERSON"), ("John Brown", "PERSON")))
    assert len({m.entity_id for m in linked}) == 2
    same = link_mentions(mentions(("John Smith", "PERSON"), ("John Smith", "PERSON")))
    assert len({m.entity_id for m in same}) == 1


def test_a_two_letter_acronym_names_its_organisation() -> None:
    linked = link_mentions(mentions(("United Nations", "ORG"), ("UN", "ORG")))
    assert [m.entity_name for m in linked] == ["United Nations", "United Nations"]
    alone = link_mentions(mentions(("United Nations", "ORG"), ("A", "ORG")))
    assert alone[1].entity_name == "A"


def test_a_short_form_takes_the_nearest_person_before_it_not_itself() -> None:
    linked = link_mentions(
        mentions(
            ("Clinton", "PERSON"),  # before anyone is named: the first named after it
            ("Hillary Clinton", "PERSON"),
            ("Bill Clinton", "PERSON"),
        )
    )
    assert linked[0].entity_name == "Hillary Clinton"


def test_entity_ids_are_sixteen_hex_digits() -> None:
    value = entity_id("PERSON", "Ada Lovelace")
    assert len(value) == 16
    assert int(value, 16) >= 0
    assert entity_id("PERSON", "Ada Lovelace") != entity_id("PERSON", "AdaLovelace")


def test_an_entity_is_named_as_the_article_writes_it_not_as_a_capitals_headline_does() -> None:
    linked = link_mentions(
        mentions(("VLADIMIR PUTIN", "PERSON"), ("Vladimir Putin", "PERSON"), ("NATO", "ORG"))
    )
    assert [m.entity_name for m in linked] == ["Vladimir Putin", "Vladimir Putin", "NATO"]
    assert linked[0].entity_id == entity_id("PERSON", "Vladimir Putin")


def test_a_name_written_with_a_hyphen_or_a_space_is_one_entity() -> None:
    linked = link_mentions(
        mentions(
            ("Kim Jong-un", "PERSON"),
            ("Kim Jong Un", "PERSON"),
            ("Kim", "PERSON"),
            ("Al-Qaeda", "ORG"),
            ("Al Qaeda", "ORG"),
        )
    )
    assert [m.entity_name for m in linked] == ["Kim Jong Un"] * 3 + ["Al Qaeda"] * 2
    assert len({m.entity_id for m in linked}) == 2


def test_a_hyphenated_surname_alone_still_names_the_person_named_in_full() -> None:
    linked = link_mentions(
        mentions(("Duduzile Zuma-Sambudla", "PERSON"), ("Zuma-Sambudla", "PERSON"))
    )
    assert [m.entity_name for m in linked] == ["Duduzile Zuma-Sambudla"] * 2


def in_text(text: str, *items: tuple[str, str]) -> list[Mention]:
    """Mentions of `items` where the body `text` writes them, in order."""
    found, at = [], 0
    for name, label in items:
        at = text.index(name, at)
        found.append(Mention("a1", name, label, at, at + len(name)))
        at += len(name)
    return found


def test_an_institution_is_named_with_the_place_written_as_its_owner() -> None:
    text = "Russia’s Defense Ministry said so. The Defense Ministry added that Russia was calm."
    items = [("Russia", "GPE"), ("Defense Ministry", "ORG"), ("Defense Ministry", "ORG")]
    linked = link_mentions(in_text(text, *items, ("Russia", "GPE")), {("body", 0): text})
    assert names(linked) == [
        ("Russia", "Russia", "GPE"),
        ("Defense Ministry", "Russia’s Defense Ministry", "ORG"),
        ("Defense Ministry", "Russia’s Defense Ministry", "ORG"),
        ("Russia", "Russia", "GPE"),
    ]
    assert linked[1].entity_id == entity_id("ORG", "Russia’s Defense Ministry")
    assert linked[1].entity_id != link_mentions(linked[1:3])[0].entity_id  # no text, no owner


NOT_OWNERS = [("Russia and the Defense Ministry", "GPE"), ("Trump’s Defense Ministry", "PERSON")]


def test_an_owner_is_a_place_with_a_possessive_before_an_institution_and_only_one() -> None:
    text = "Russia’s Gazprom met Russia’s Defense Ministry and Ukraine’s Defense Ministry."
    items = [("Russia", "GPE"), ("Gazprom", "ORG"), ("Russia", "GPE"), ("Defense Ministry", "ORG")]
    linked = link_mentions(
        in_text(text, *items, ("Ukraine", "GPE"), ("Defense Ministry", "ORG")),
        {("body", 0): text},
    )
    assert [m.entity_name for m in linked] == [
        "Russia", "Gazprom", "Russia", "Defense Ministry", "Ukraine", "Defense Ministry"
    ]
    for text, owner in NOT_OWNERS:
        linked = link_mentions(
            in_text(text, (text.split()[0].rstrip("’s"), owner), ("Defense Ministry", "ORG")),
            {("body", 0): text},
        )
        assert linked[1].entity_name == "Defense Ministry"


def test_a_company_named_without_its_ending_is_the_company() -> None:
    linked = link_mentions(
        mentions(
            ("Newmont Mining Corp", "ORG"),
            ("Newmont", "GPE"),
            ("Santa Fe", "GPE"),
            ("Santa Fe Pacific Gold Corp.", "ORG"),
            ("Bre-X", "PERSON"),
            ("Bre-X Minerals Ltd", "ORG"),
        )
    )
    assert names(linked) == [
        ("Newmont Mining Corp", "Newmont Mining Corp", "ORG"),
        ("Newmont", "Newmont Mining Corp", "ORG"),
        ("Santa Fe", "Santa Fe Pacific Gold Corp", "ORG"),
        ("Santa Fe Pacific Gold Corp.", "Santa Fe Pacific Gold Corp", "ORG"),
        ("Bre-X", "Bre-X Minerals Ltd", "ORG"),
        ("Bre-X Minerals Ltd", "Bre-X Minerals Ltd", "ORG"),
    ]


def test_a_country_or_an_institution_is_not_taken_by_a_company_or_body_named_after_it() -> None:
    linked = link_mentions(
        mentions(
            ("China Airlines", "ORG"),
            ("China", "GPE"),
            ("U.S. Steel Corp", "ORG"),
            ("U.S.", "GPE"),
            ("Michigan Department of Health and Human Services", "ORG"),
            ("Michigan", "GPE"),
            ("House Select Committee", "ORG"),
            ("House", "ORG"),
        )
    )
    assert [m.entity_name for m in linked][1::2] == ["China", "U.S.", "Michigan", "House"]
    assert [m.label for m in linked][1::2] == ["GPE", "GPE", "GPE", "ORG"]


def test_a_short_form_written_again_is_the_company_named_nearest_its_first_mention() -> None:
    linked = link_mentions(
        mentions(
            ("Big Machine", "ORG"),
            ("Big Machine Records", "ORG"),
            ("Big Machine", "ORG"),
            ("Big Machine Label Group", "ORG"),
            ("Big Machine", "ORG"),
        )
    )
    assert [m.entity_name for m in linked] == [
        "Big Machine Records",
        "Big Machine Records",
        "Big Machine Records",
        "Big Machine Label Group",
        "Big Machine Records",
    ]


def test_a_surname_linked_to_a_person_is_not_also_the_company_named_after_them() -> None:
    linked = link_mentions(
        mentions(("Michael Dell", "PERSON"), ("Dell", "PERSON"), ("Dell Technologies", "ORG"))
    )
    assert [m.entity_name for m in linked] == ["Michael Dell", "Michael Dell", "Dell Technologies"]


def test_a_surname_read_as_a_person_once_takes_its_other_mentions_to_the_full_name() -> None:
    linked = link_mentions(
        mentions(
            ("Marina Lacerda", "ORG"),
            ("Lacerda", "ORG"),
            ("Lacerda", "PERSON"),
            ("Lacerda", "ORG"),
        ),
        {("body", 0): "Marina Lacerda said it. Lacerda added more."},
    )
    assert names(linked) == [
        ("Marina Lacerda", "Marina Lacerda", "PERSON"),
        ("Lacerda", "Marina Lacerda", "PERSON"),
        ("Lacerda", "Marina Lacerda", "PERSON"),
        ("Lacerda", "Marina Lacerda", "PERSON"),
    ]


def test_the_rest_of_a_name_opening_with_a_place_names_that_team_or_body() -> None:
    linked = link_mentions(
        mentions(
            ("Los Angeles", "GPE"),
            ("Los Angeles Dodgers", "ORG"),
            ("Dodgers", "PERSON"),
            ("Dodgers", "PERSON"),
            ("Amsterdam", "GPE"),
            ("Amsterdam Light Festival", "EVENT"),
            ("Amsterdam Light Festival", "ORG"),
            ("Amsterdam Light Festival", "EVENT"),
            ("Light Festival", "EVENT"),
            ("Dodgers Stadium", "FAC"),
        )
    )
    assert names(linked)[1:4] == [("Los Angeles Dodgers", "Los Angeles Dodgers", "ORG")] + [
        ("Dodgers", "Los Angeles Dodgers", "ORG")
    ] * 2  # the team named in full makes its entity an organisation
    # a festival that is an organisation's only in one reading stays the event most read
    assert {(m.entity_name, m.label) for m in linked[5:9]} == {
        ("Amsterdam Light Festival", "EVENT")
    }
    assert linked[9].entity_name == "Dodgers Stadium"  # the words after the place, not before
