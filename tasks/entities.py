"""Which mentions of an article name the same entity, and that entity's warehouse identity.

`link_mentions` takes the mentions of one article (title, lead, highlights and body, in
order) and gives each the id of the entity it names, with one label per entity and the
person's title or role kept apart from the name ("Gov. Kathy Hochul" -> name "Kathy Hochul",
title "Gov."). The rules, in order:

1. A mention's name is its text without a leading title ("Mr.", "President", "Gov."), a
   possessive ending, or quotation marks around it.
2. Names of two or more words are one entity when they are the same words (a hyphen counting
   as a space: "Kim Jong-un" is "Kim Jong Un"), or share their last word and their first
   word (or its initial: "J. Smith" is "John Smith").
3. A one-word name ("Putin", "Mr. Putin") is the person named in full elsewhere in the article
   whose last word ("King" of "Martin Luther King Jr.") it is, else whose first word it is
   ("Dale" for "Dale Ford"), whatever label the model gave the one-word mention ("Sondland"
   read as a place). A full name written after a title counts as a person's for a one-word
   name read as a person at any of its mentions, whatever its own label ("Govender" and
   "Major-Gen Gopaul Govender" read as an organisation); failing that, so does a name read
   as an organisation that may be a person's: two or three capitalised words without
   figures, none an organisation's word, the first and last never written in lowercase in
   the article, not opening with a place it names ("Rudolph" and "Mason Rudolph"; not
   "Pittsburgh Steelers"). When several people share that word, the one named most
   recently before it wins (else the first named after it).
4. An all-capitals word ("WHO") is the organisation whose initials it spells, named in full in
   the article.
5. A name that is the first words of a company named in full in the article ("Newmont",
   "Santa Fe" of "Newmont Mining Corp", "Santa Fe Pacific Gold Corp": an organisation whose
   name ends in Corp, Inc, Ltd, Group, Records ... `COMPANY_ENDINGS`) is that company: of
   several, the one named nearest before the name's first mention (else after it); unless the
   name is a country's ("China" of "China Airlines") or rule 3 or 4 made it a person's. So
   is a name that is the rest of an organisation's name opening with a place the article
   names ("Dodgers" of "Los Angeles Dodgers", "Steelers" of "Pittsburgh Steelers").
6. Anything else is one entity per name ("Al-Qaeda" is "Al Qaeda"), whatever its labels.

An entity's label is the one most of its mentions carry, a person named in full (or a full
name rule 3 gave a one-word name read as a person) making it PERSON and else a company named
in full making it ORG, and one of a name opening with a place (rule 5) the label its name in
full is read with most; its name is its longest name (the most frequent of equal length, and
written in capitals only if the article writes it no other way: "Vladimir Putin", not the
headline's "VLADIMIR PUTIN"); an organisation named with an institution's word (ministry,
court, army ... `INSTITUTION_WORDS`) right after a place and "’s" takes that place into its
name ("Russia’s Defense Ministry", also for a later "the Defense Ministry"), so that two
countries' ministries are two entities, unless one article writes it with two owners.
Across the warehouse an entity is identified by its label and name
(`entity_id`): two people with one name are one entity, and a person named only by surname in
an article is an entity of that surname.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from tasks.records import Mention

# Titles and roles written before a name. Lowercase, without the final full stop.
TITLES = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lord", "lady",
        "gov", "governor", "sen", "senator", "rep", "representative", "president",
        "vice-president", "pres", "prime", "minister", "chancellor", "king", "queen",
        "prince", "princess", "pope", "general", "gen", "col", "colonel", "capt",
        "captain", "lt", "lieutenant", "sgt", "sergeant", "maj", "major", "adm",
        "admiral", "judge", "justice", "mayor", "secretary", "ambassador", "rev",
        "reverend", "father", "sister", "brother", "sheikh", "emir", "sultan",
        "ayatollah", "rabbi", "imam", "cardinal", "bishop", "archbishop", "chairman",
        "chairwoman", "chief", "coach", "commissioner", "councillor", "councilman",
        "councilwoman", "deputy", "director", "officer", "detective", "inspector",
        "superintendent", "constable", "st", "saint", "defender", "midfielder", "striker",
        "goalkeeper", "winger", "quarterback", "pitcher",
    }
)
PLACE_TITLES = frozenset({"st", "saint"})  # also in place names ("St Louis")
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})  # after a surname
# Lowercase words inside names ("Ursula von der Leyen", "Abu Bakr al-Baghdadi").
NAME_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "da", "del", "della", "di", "du", "la", "le", "bin", "ibn"}
    | {"al", "el", "y", "dos", "das", "ten", "ter", "zu", "af", "av"}
)
# An organisation named with one of these words is an institution of the place written as
# its owner before it ("Russia’s Defense Ministry"), and named with that place.
INSTITUTION_WORDS = frozenset(
    {
        "ministry", "department", "army", "military", "navy", "police", "court", "embassy",
        "government", "parliament", "agency", "office", "bank", "council", "commission",
        "committee", "cabinet", "senate", "congress", "guard", "forces", "command",
    }
)
OWNER_LABELS = frozenset({"GPE", "NORP"})
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# Last words of a company's name, lowercase without a full stop ("Newmont Mining Corp"): the
# name's first words alone are the company too ("Newmont"). Not the words of institutions and
# public bodies: "the House" is not the "House Select Committee", nor "Michigan" the
# "Michigan Department of Health and Human Services".
COMPANY_ENDINGS = frozenset(
    {
        "corp", "corporation", "inc", "incorporated", "co", "company", "ltd", "limited",
        "plc", "llc", "llp", "gmbh", "ag", "sa", "nv", "spa", "group", "holdings",
        "records", "productions", "studios", "entertainment", "airlines", "airways",
        "motors", "technologies", "pharmaceuticals", "labs",
    }
)
# Words of organisations' and places' names that people's names do not have.
ORGANISATION_WORDS = (
    COMPANY_ENDINGS
    | INSTITUTION_WORDS
    | {"university", "college", "school", "party", "foundation", "institute", "association"}
    | {"club", "united", "city", "fc", "team", "union", "league", "news", "times", "post"}
    | {"services", "systems", "international", "national", "america", "american", "street"}
)
_OWNED = re.compile(r"['’]s\s+")  # what stands between the owner and the institution
_QUOTES = "\"'“”‘’«»„"
_POSSESSIVE = re.compile(r"['’]s?$")
_HYPHENS = re.compile(r"[-‐‑]")
_LOWER_WORD = re.compile(r"\b[a-z][a-z'’-]*\b")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class _Name:
    words: tuple[str, ...]  # as written, without title
    title: str | None

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(fold(w) for w in self.words)

    @property
    def spelled(self) -> tuple[str, ...]:
        """The key with hyphenated words split: "Kim Jong-un" is spelled as "Kim Jong Un"."""
        return tuple(part for word in self.key for part in _HYPHENS.split(word) if part)


def fold(text: str) -> str:
    """A name's comparison form: NFKC, case-folded, without dots and accents kept."""
    return unicodedata.normalize("NFKC", text).casefold().replace(".", "")


def split_title(text: str) -> tuple[str, str | None]:
    """("Gov. Kathy Hochul's") -> ("Kathy Hochul", "Gov."): the name and the title before it."""
    name = text.strip().strip(_QUOTES).strip()
    name = _POSSESSIVE.sub("", name) if len(name.split()) > 1 or name[-2:] in ("'s", "’s") else name
    words = name.split()
    if len(words) > 1 and fold(words[0]) == "the":
        words.pop(0)
    taken: list[str] = []
    while len(words) > 1 and is_title(words[0]) and fold(words[0]) not in PLACE_TITLES:
        taken.append(words.pop(0))  # "St Louis" keeps its "St"
    name = " ".join(words).strip(", ").lstrip(".")
    last = name.rsplit(" ", 1)[-1]
    if last.endswith(".") and "." not in last[:-1]:  # "Jr." -> "Jr", "U.S." stays
        name = name[:-1].rstrip(", ")
    return name, " ".join(taken) or None


def is_country(name: str) -> bool:
    """Whether a name is a country's or region's ("Japan", "U.S.", "Wales")."""
    return " ".join(fold(word) for word in name.split()) in _countries()


@functools.cache
def _countries() -> frozenset[str]:
    """Countries and regions, folded: CLDR's English names (through Babel, loaded on first
    use, less the European Union and the United Nations, which are organisations) and the
    common abbreviations. A company named after one ("China Airlines", "U.S. Steel Corp")
    does not take the country's own mentions."""
    from babel import Locale

    names = {fold(name) for name in Locale("en").territories.values()}
    return frozenset(
        {"us", "usa", "uk", "uae", "england", "scotland", "wales", "northern ireland"}
        | names - _NOT_PLACES
    )


# CLDR's territories that are organisations, or no place at all.
_NOT_PLACES = frozenset(
    {"european union", "united nations", "eurozone", "world", "pseudo-accents", "pseudo-bidi"}
)


def surname(words: Sequence[str]) -> str:
    """The last word of a name but a generational suffix ("King" of "Martin Luther King Jr.")."""
    if len(words) > 1 and fold(words[-1]).rstrip(",") in SUFFIXES:
        return words[-2].rstrip(",")
    return words[-1]


def is_title(word: str) -> bool:
    """A title ("Vice-President"), or titles joined by hyphens ("Major-Gen")."""
    folded = fold(word).rstrip(",")
    return folded in TITLES or all(part in TITLES for part in _HYPHENS.split(folded))


def entity_id(label: str, name: str) -> str:
    """The warehouse-wide id of the entity `name` with `label`."""
    key = f"{label}\x1f{' '.join(fold(w) for w in name.split())}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _same_person(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two full names of one person: same last word, same first word or its initial."""
    if a == b:
        return True
    if len(a) < 2 or len(b) < 2 or surname(a) != surname(b):
        return False
    first_a, first_b = a[0], b[0]
    return first_a == first_b or (
        min(len(first_a), len(first_b)) == 1 and first_a[0] == first_b[0]
    )


def link_mentions(
    mentions: Sequence[Mention], texts: Mapping[tuple[str, int], str] | None = None
) -> tuple[Mention, ...]:
    """The mentions of one article, each with its `entity_id`, `entity_name`, the entity's
    `label` and its own `title` (see the module's rules); `texts` holds the article's texts
    by (field, item), where the owner of an institution is read ("Russia’s Defense
    Ministry")."""
    names = [_Name(*_words(m.text)) for m in mentions]
    group = list(range(len(mentions)))  # each mention's group: the index of its first mention

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    def join(i: int, j: int) -> None:
        group[root(j)] = root(i)

    lowercase = {w for text in (texts or {}).values() for w in _LOWER_WORD.findall(text)}
    places = {n.spelled for n, m in zip(names, mentions, strict=True) if m.label in PLACE_LABELS}

    def person_like(j: int) -> bool:
        """Whether a name the model read as an organisation's may be a person's: two or
        three capitalised words without figures, none an organisation's word, the first and
        last never written in lowercase, not opening with a place the article names
        ("Mason Rudolph"; not "Harris Corp", "Blue Moon", "Pittsburgh Steelers")."""
        name = names[j]
        if mentions[j].label != "ORG" or not 1 < len(name.words) < 4:
            return False
        if not all(w[:1].isupper() and not _DIGIT.search(w) for w in name.words):
            return False
        if any(name.spelled[:size] in places for size in (1, 2)):
            return False  # a team or a paper: "Pittsburgh Steelers", "London Standard"
        first_last = {name.key[0], surname(name.key)}
        return ORGANISATION_WORDS.isdisjoint(name.key) and first_last.isdisjoint(lowercase)

    linked: set[int] = set()  # mentions joined to another by rules 2-4
    to_people: set[int] = set()  # ... by rules 3-4
    people: set[int] = set()  # full names that rule 3 gave a surname read as a person's
    full = [i for i, n in enumerate(names) if len(n.words) > 1]
    persons = [i for i in full if mentions[i].label == "PERSON"]
    titled = [i for i in full if (t := names[i].title) and fold(t) not in PLACE_TITLES]
    for pos, i in enumerate(full):  # rule 2
        for j in full[:pos]:
            same = names[i].spelled == names[j].spelled or (
                i in persons and j in persons and _same_person(names[i].key, names[j].key)
            )
            if same:
                join(j, i)
                linked.update((i, j))
                break
    # one-word names read as a person's at least once: every mention of the word is judged so
    read_as_person = {
        n.key for n, m in zip(names, mentions, strict=True) if m.label == "PERSON"
    }
    for i, name in enumerate(names):
        if len(name.words) != 1:
            continue
        word = name.key[0]
        as_person = name.key in read_as_person
        by_last = [j for j in persons if surname(names[j].key) == word]
        by_first = [j for j in persons if names[j].key[0] == word]
        if not by_last and as_person:  # "Major-Gen Gopaul Govender" (ORG)
            by_last = [j for j in titled if surname(names[j].key) == word]
        if not by_last and as_person:  # "Mason Rudolph" read as ORG
            by_last = [j for j in full if surname(names[j].key) == word and person_like(j)]
        chosen = _nearest(i, by_last or by_first)  # rule 3
        if chosen is not None and as_person:
            people.add(chosen)  # a surname read as a person's makes the full name a person's
        if chosen is None and name.words[0].isupper() and len(word) >= 2:  # rule 4
            chosen = _nearest(i, [j for j in full if _initials(names[j].words) == word])
        if chosen is not None:
            join(chosen, i)
            linked.update((i, chosen))
            to_people.add(i)
    companies = [i for i in full if _company(mentions[i], names[i])]
    teams = {  # an organisation named after a place the article names, by the rest of its name
        j: names[j].spelled[size:]
        for j in full
        for size in (1, 2)
        if mentions[j].label == "ORG"
        and len(names[j].spelled) > size
        and names[j].spelled[:size] in places
    }
    company_of: dict[tuple[str, ...], int | None] = {}  # a spelling's company, by its first
    for i, name in enumerate(names):  # rule 5
        country = is_country(" ".join(name.words))
        if i in to_people or country or _company(mentions[i], name):
            continue
        if name.spelled not in company_of:
            size = len(name.spelled)
            longer = [
                j
                for j in companies
                if names[j].spelled[:size] == name.spelled and len(names[j].spelled) > size
            ]
            longer += [j for j, rest in teams.items() if rest == name.spelled]
            company_of[name.spelled] = _nearest(i, sorted(set(longer)))
        chosen = company_of[name.spelled]
        if chosen is not None:
            join(chosen, i)
            linked.update((i, chosen))
    first_of: dict[tuple[str, ...], int] = {}  # rule 6: the rest, one entity per spelling
    for i, name in enumerate(names):
        if i in linked:
            continue
        if name.spelled in first_of:
            join(first_of[name.spelled], i)
        else:
            first_of[name.spelled] = i
    owners = _owners(mentions, names, texts or {})
    roots = [root(i) for i in range(len(mentions))]
    return _labelled(mentions, names, roots, owners, people, set(teams))


def _owners(
    mentions: Sequence[Mention], names: Sequence[_Name], texts: Mapping[tuple[str, int], str]
) -> dict[int, str]:
    """The place written as the owner of each institution that has one: a place's name and
    "’s" right before an organisation named with an institution's word ("Russia’s" of
    "Russia’s Defense Ministry", "India’s" of "India’s Supreme Court")."""
    owners: dict[int, str] = {}
    for i in range(1, len(mentions)):
        place, org = mentions[i - 1], mentions[i]
        text = texts.get((org.field, org.item))
        same_text = (place.field, place.item) == (org.field, org.item)
        if text is None or not same_text or place.label not in OWNER_LABELS:
            continue
        institution = org.label == "ORG" and not INSTITUTION_WORDS.isdisjoint(names[i].key)
        if institution and _OWNED.fullmatch(text, place.end_char, org.start_char):
            owners[i] = text[place.start_char : org.start_char].rstrip()
    return owners


def _company(mention: Mention, name: _Name) -> bool:
    """Whether a mention names an organisation in full as a company ("Barrick Gold Corp")."""
    last = name.key[-1].rstrip(",")
    return mention.label == "ORG" and len(name.words) > 1 and last in COMPANY_ENDINGS


def _words(text: str) -> tuple[tuple[str, ...], str | None]:
    name, title = split_title(text)
    return tuple(name.split()) or (text,), title


def _initials(words: Sequence[str]) -> str:
    return "".join(fold(w)[0] for w in words if w[:1].isupper())


def _nearest(i: int, candidates: Sequence[int]) -> int | None:
    """The candidate mention nearest before `i`, else the first after it."""
    before = [j for j in candidates if j < i]
    if before:
        return before[-1]
    return candidates[0] if candidates else None


def _labelled(
    mentions: Sequence[Mention],
    names: Sequence[_Name],
    roots: Sequence[int],
    owners: Mapping[int, str],
    people: set[int],
    teams: set[int],
) -> tuple[Mention, ...]:
    members: dict[int, list[int]] = {}
    for i, r in enumerate(roots):
        members.setdefault(r, []).append(i)
    decided: dict[int, tuple[str, str]] = {}
    for r, indices in members.items():
        labels = Counter(mentions[i].label for i in indices)
        full_person = any(
            (mentions[i].label == "PERSON" or i in people) and len(names[i].words) > 1
            for i in indices
        )
        seen = [mentions[i].label for i in indices]
        company = any(_company(mentions[i], names[i]) for i in indices)
        label = "PERSON" if full_person else "ORG" if company else _most_common(labels, seen)
        team = {names[i].spelled for i in indices if i in teams}
        if team and not full_person and not company:  # as its name in full is read
            full = [mentions[i].label for i in indices if names[i].spelled in team]
            label = _most_common(Counter(full), full)
        written = [" ".join(names[i].words) for i in indices]
        longest = max(len(s.split()) for s in written)
        candidates = [s for s in written if len(s.split()) == longest]
        cased = [s for s in candidates if not s.isupper()]  # a headline in capitals
        counts = Counter(cased or candidates)
        name = _most_common(counts, written)
        owned = {owners[i] for i in indices if i in owners}
        if len(owned) == 1 and label == "ORG":  # one owner: "Russia’s Defense Ministry"
            name = f"{owned.pop()} {name}"
        decided[r] = (label, name)
    linked = []
    for i, mention in enumerate(mentions):
        label, name = decided[roots[i]]
        linked.append(
            replace(
                mention,
                label=label,
                entity_id=entity_id(label, name),
                entity_name=name,
                title=names[i].title or mention.title,
            )
        )
    return tuple(linked)


def _most_common(counts: Counter[str], order: Sequence[str]) -> str:
    """The most frequent value, ties going to the one seen first."""
    best = max(counts.values())
    return next(value for value in order if counts[value] == best)


def resolve_speaker(speaker: str, linked: Sequence[Mention]) -> Mention | None:
    """The mention (of an article's linked mentions) whose entity said a quote, given the
    speaker as attribution wrote it ("Putin", "Mr. Putin", "Vladimir Putin"); None when no
    entity of the article has that name, or a one-word name fits several people."""
    name, _ = split_title(speaker)
    key = tuple(fold(w) for w in name.split())
    if not key:
        return None
    for mention in linked:
        if tuple(fold(w) for w in split_title(mention.text)[0].split()) == key:
            return _entity_mention(mention, linked)
    if len(key) == 1:
        people = {
            m.entity_id: m
            for m in linked
            if m.label == "PERSON" and m.entity_name and key[0] in _end_words(m.entity_name)
        }
        if len(people) == 1:
            return next(iter(people.values()))
    return None


def _end_words(name: str) -> tuple[str, str]:
    words = [fold(w) for w in name.split()]
    return words[0], surname(words)


def _entity_mention(mention: Mention, linked: Sequence[Mention]) -> Mention:
    return next((m for m in linked if m.entity_id == mention.entity_id), mention)


@dataclass(frozen=True, slots=True)
class EntitySeen:
    """What one run saw of one entity in one source's articles: an `entity_runs` row."""

    source_id: str
    entity_id: str
    entity_name: str  # the name the run's articles gave it most often in full
    label: str
    aliases: tuple[str, ...]  # every other way the run's articles named it, sorted
    articles: int
    mentions: int


def tally_entities(mentions: Iterable[Mention], source_of: Mapping[str, str]) -> list[EntitySeen]:
    """One `EntitySeen` per source and entity of a run's linked mentions, sorted by id.

    A run writes these for its own articles only, so the warehouse's `entities` view, which
    adds them up, is kept current without any run reading the history.
    """
    names: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    spelled: dict[tuple[str, str], set[str]] = defaultdict(set)
    articles: dict[tuple[str, str], set[str]] = defaultdict(set)
    labels: dict[str, str] = {}
    for mention in mentions:
        if mention.entity_id is None or mention.entity_name is None:
            continue
        key = (source_of[mention.article_id], mention.entity_id)
        names[key][mention.entity_name] += 1
        spelled[key].add(split_title(mention.text)[0])
        articles[key].add(mention.article_id)
        labels[mention.entity_id] = mention.label
    rows = []
    for key in sorted(names):
        source_id, entity = key
        name = max(sorted(names[key]), key=lambda n: names[key][n])
        rows.append(
            EntitySeen(
                source_id=source_id,
                entity_id=entity,
                entity_name=name,
                label=labels[entity],
                aliases=tuple(sorted(spelled[key] - {name})),
                articles=len(articles[key]),
                mentions=sum(names[key].values()),
            )
        )
    return rows


def combine_tallies(rows: Iterable[EntitySeen]) -> list[EntitySeen]:
    """Tallies of disjoint sets of articles (a run's batches) as one tally, sorted by id."""
    merged: dict[tuple[str, str], EntitySeen] = {}
    for row in rows:
        key = (row.source_id, row.entity_id)
        before = merged.get(key)
        if before is None:
            merged[key] = row
            continue
        main = before if before.mentions >= row.mentions else row
        merged[key] = replace(
            main,
            aliases=tuple(sorted((set(before.aliases) | set(row.aliases)) - {main.entity_name})),
            articles=before.articles + row.articles,
            mentions=before.mentions + row.mentions,
        )
    return [merged[key] for key in sorted(merged)]
