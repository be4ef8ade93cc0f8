"""Who a quotation's attribution names: the person or organisation behind a subject token.

`Speakers` indexes one parsed body (its entities, and per sentence the grammatical subjects,
the sources "according to" names, and the people named, outside quotations) and turns the
subject of a speech verb into a speaker's name, or None:

1. A named entity (PERSON, ORG, NORP, GPE, FAC) is its name. A PERSON's short name ("Dale",
   "Ms. Berg") becomes the one full name of the article whose first or last word it is, a
   title's gender choosing between two people who share a surname. A one-word name that is
   a word of a person's full name ("Early" for "Chris Early") is that person whatever label
   the model gave it, or none, as are the last words of one ("Le Clair" of "Craig Le
   Clair"); so is an entity of two to four words opening with a common given name
   ("Penelope Muse Abernathy" tagged ORG), or after an abbreviated or hyphenated title
   ("Major-Gen Gopaul Govender" tagged ORG; not "General Motors"). An all-capitals
   word is a name ("WHO", "the DEA"; not "a CEO"), the organisation named in full whose
   initials it spells when there is one. A capitalised word the model did not tag is a
   name unless it merely opens its sentence ("says Buser", "“…?” Schiff asked"), with a
   capitalised "for"/"of" tail ("High Commissioner for Human Rights") and without the words
   up to the last lowercase one before it ("Environmental organisation Frack Free Namibia").
2. An apposition names the speaker ("his aunt, Rosa Whitfield, said"), a person in
   apposition to an organisation's name too ("MEC for Cooperative Governance, Jacob
   Mamabolo, said"), for a cue's subject and for the subjects pronouns refer back to.
3. Pronouns, matched by case ("WHO" is none), go back sentence by sentence (twelve, three
   for "they") to the latest agreeing subject, a sentence's main-clause subjects before those
   of clauses that report no speech ("Khan alleged that Munir was ...", "Assad, who was
   deposed"), an earlier sentence's main-clause "he" referring where that one does:
   "he"/"she" to a person whose gender, when known (a title such as Mr/Ms, a common given
   name, a gendered noun in apposition such as "son"), agrees, or to someone speaking for
   an organisation; "it" to an organisation or country; "they" to an organisation, to a
   person of no known gender (singular "they"), or to nobody when the latest candidate is an
   unnamed group ("officials"); a subject the model did not tag counts as a person when it
   is two to four capitalised words ("Eswar Prasad, a trade professor, said"). Then
   "he"/"she" take the latest agreeing person named in those sentences, else the last
   speaker; "it" the latest organisation.
4. A descriptor is replaced by whom it describes, else dropped (no speaker rather than "a
   spokesperson"). Someone speaking for an organisation, or a document ("a spokeswoman for
   Northwind", "a WeWork spokesperson", "a statement from X", "its spokesman"), is that
   organisation or author; "a company spokesperson" is what "the company" would be; staff
   of a named organisation ("analysts at Boston Consulting Group") speak for it. An
   organisation noun with a named modifier stays a phrase from that name on, with a named
   "on"/"of"/"for" after it ("the new House committee on China": "House committee on China").
   A definite description, or one a name owns ("China's ambassador"), whose noun was
   written just before a person's name, also across "of", "to" or "for" ("Secretary of
   State", "ambassador to Britain"), is that person: the latest so written before it ("US
   President Donald Trump" ... "the US President said"), else the first after it. Else it
   refers back:
   an organisation noun ("the union") to the latest organisation whose name has that word,
   else the name an earlier mention of the noun was given in apposition ("The group,
   WeWorkers Coalition, formed ..."),
   else one that was a subject within three sentences, else (company, firm ...) the latest
   organisation, else (the agency, the department ...) the latest organisation named in its
   sentence or the two before ("drawn up by the Storm Prediction Center. The agency warns");
   a document ("the statement") to whoever issued the one last mentioned
   ("The company denied it in a statement" ... "the statement read": the company; an
   organisation noun inside a subject the parser misread counts), else to the latest
   named subject; a person noun ("the actor", "The 56-year-old", and a
   relative: "his aunt") to the latest agreeing
   named person who was a subject, unless the same noun last described someone unnamed
   ("one legal expert" ... "the expert"; "the expert" again refers where the first did), and
   a plural one ("the experts") to nobody, unless this or any earlier mention of it in the
   article makes the group part of an organisation: "lawmakers on the House Oversight
   Committee", "The doctors, members of Doctors for Camp Closure" (not "critics of X").

Limits: no coreference model. A pronoun or description far from its referent, or a person
of unknown gender in between, can still resolve wrongly; gender comes from short lists.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, takewhile

from spacy.tokens import Doc, Span, Token

from tasks.entities import NAME_PARTICLES, PLACE_TITLES, split_title, surname


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SPEAKER_LABELS = frozenset({"PERSON", "ORG", "NORP", "GPE", "FAC"})
ORG_LABELS = frozenset({"ORG", "NORP", "GPE", "FAC"})
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
RELATIVE_PRONOUNS = frozenset({"who", "which", "that"})
# Pronouns as written (case matters: "WHO", "IT" and "US" are names).
PRONOUNS = {
    "he": "he", "He": "he", "she": "she", "She": "she",
    "it": "it", "It": "it", "they": "they", "They": "they",
}  # fmt: skip
_NOUN_PHRASE_DEPS = frozenset({"compound", "amod", "nmod", "poss", "case", "nummod"})
_ATTACHED_DEPS = frozenset({"compound", "amod", "nmod", "poss"})
_MEMBER_NOUNS = frozenset({"members", "member"})
_ATTACHING_PREPS = frozenset({"for", "of", "from", "at", "by"})
_MISREAD_SUBJECT_DEPS = frozenset({"advmod", "npadvmod", "dep"})
_DEFINITE = frozenset({"the", "this", "that"})
_PRONOUN_HOPS = 20  # main-clause pronouns a pronoun may follow back to a name
_CLOSING_MARKS = frozenset({"”", '"', "»", "“"})

# Gender: titles, common given names and gendered nouns (lowercase, no final full stop).
FEMALE_TITLES = _words(
    "ms mrs miss dame lady queen princess duchess madam madame mme sister"
)
MALE_TITLES = _words("mr sir lord king prince duke monsieur father brother")
FEMALE_NAMES = _words(
    """
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty
    margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah
    stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela emma
    nicole helen samantha katherine christine debra rachel carolyn janet catherine maria heather
    diane ruth julie olivia joyce virginia victoria  lauren christina joan evelyn judith
    megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn
    janice  abigail alice judy sophia grace denise amber doris marilyn danielle beverly
    isabella theresa diana natalie brittany charlotte marie kayla  lori fiona priya anita
    rosa elena sofia sophie carla ingrid greta marta monika claudia natasha olga irina svetlana
    yulia tatiana fatima aisha amina leila yasmin mei ling yuki keiko ana lucia isabel carmen
    camila valentina jenny joanne ursula angela nadia zainab chloe lucy ella mia amelia ava
    lily ellie freya ruby hilary hillary nancy kamala alexandria theresa jacinda ursula
    penelope
    """
)
MALE_NAMES = _words(
    """
    james robert john michael david william richard joseph thomas charles christopher daniel
    matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy
    ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin
    scott brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry
    tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy
    christian keith roger terry gerald harold sean austin carl arthur lawrence dylan
     bryan billy joe bruce gabriel  albert willie alan juan wayne elijah randy roy
    vincent ralph eugene russell bobby mason philip louis tom tim jim bob bill mike dave steve
     matt dan ben  nick joe ted fred harry oliver jake luke liam lewis lars hans omar
    ahmed mohammed muhammad ali hassan ivan igor sergei dmitri vladimir boris carlos jorge luis
    miguel pedro antonio francisco pablo marco giovanni luca hiroshi kenji wei jun rahul
    arjun ravi gabor tamas dale martin kurt angus emmanuel olaf xi narendra joel keith avi
    saeb ayman mike rudy leon ken tim strauss
    """
)
FEMALE_NOUNS = _words(
    """
    woman mother daughter wife sister aunt niece grandmother granddaughter girl actress
    spokeswoman chairwoman businesswoman councilwoman congresswoman widow queen princess lady
    girlfriend mum mom
    """
)
MALE_NOUNS = _words(
    """
    man father son husband brother uncle nephew grandfather grandson boy spokesman chairman
    businessman councilman congressman widower king prince boyfriend dad
    """
)
# People who speak for an organisation, and documents that speak for their author.
REPRESENTATIVE_NOUNS = _words(
    """
    spokesperson spokesman spokeswoman representative rep spokespeople
    """
)
# People whose published words are their organisation's ("analysts at Goldman Sachs").
STAFF_NOUNS = _words(
    """
    analysts researchers economists scientists officials strategists experts executives
    engineers staff
    """
)
DOCUMENT_NOUNS = _words(
    """
    statement release report study survey letter post tweet filing complaint document memo
    email message note notice website analysis poll paper ruling judgment judgement order
    indictment audit review announcement communique communiqué bulletin
    """
)
ORG_NOUNS = _words(
    """
    company firm group ministry department agency bureau government office union organisation
    organization association council committee commission authority bank court police party
    club team board institute institution centre center service network broadcaster airline
    carmaker manufacturer retailer startup watchdog regulator army military navy embassy
    administration foundation charity university school hospital campaign coalition alliance
    federation league label studio publisher newspaper station channel body
    """
)
# Organisation nouns that may stand for the latest organisation named, whatever its name.
STATE_NOUNS = _words("government administration")  # may refer to a country's name
GENERIC_ORG_NOUNS = _words(
    "company firm group organisation organization business corporation conglomerate airline"
    " carmaker retailer startup"
)
ROLE_ACRONYMS = _words("CEO CFO COO CTO CIO MP MEP MSP PM VP GM MD DJ")
_MENTION_REACH = 12  # sentences back that an earlier mention of a noun is looked for
_ROLE_REACH = 6  # tokens before a name that its role may take
_ROLE_JOINERS = _words("of to for")
_PLURAL_NOUNS = _words("people police staff crowd public media press children men women")


@dataclass(frozen=True, slots=True)
class Naming:
    """A speaker's name (None: nobody named) and how it was found: "" directly, "pronoun"
    or "descriptor" when a pronoun or a description had to be resolved."""

    name: str | None
    via: str = ""


_NOBODY = Naming(None)


@dataclass(frozen=True, slots=True)
class _Referent:
    name: str
    label: str  # PERSON, or an organisation-like label
    gender: str | None  # "f", "m" or None


def _fold(word: str) -> str:
    return word.casefold().rstrip(".")


def _agrees(gender: str | None, wanted: str | None) -> bool:
    return gender is None or wanted is None or gender == wanted


def _plural(token: Token) -> bool:
    word = token.lower_
    if word in _PLURAL_NOUNS:
        return True
    return word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3


class Speakers:
    """The speaker-naming rules of the module docstring, over one parsed body."""

    def __init__(self, doc: Doc, in_quote: Callable[[int], bool]) -> None:
        self.doc = doc
        self.in_quote = in_quote
        self.ent_of: dict[int, Span] = {}
        for ent in doc.ents:
            for i in range(ent.start, ent.end):
                self.ent_of[i] = ent
        self.person_words: dict[str, set[str]] = {}  # a name's first or last word -> names
        self.title_gender: dict[str, str] = {}  # folded name or surname -> gender by title
        for ent in doc.ents:
            words = _name_words(ent)
            if ent.label_ != "PERSON" and not given_name(words) and not _titled(ent):
                continue
            gender = self._title_before(ent.start) or _appositive_gender(ent)
            if gender is not None:
                self.title_gender.setdefault(" ".join(map(_fold, words)), gender)
            if len(words) > 1:
                name = " ".join(words)
                for word in (words[0], surname(words)):
                    self.person_words.setdefault(_fold(word), set()).add(name)
        self.outside = [e for e in doc.ents if not in_quote(e.start_char)]
        self.outside_starts = [e.start_char for e in self.outside]
        self.sent_starts = [sent.start for sent in doc.sents]
        # Per sentence: its subjects, and the tokens opening a person's name, outside quotes.
        self.subjects: list[list[Token]] = [[] for _ in self.sent_starts]
        self.people: list[list[Token]] = [[] for _ in self.sent_starts]
        for token in doc:
            if in_quote(token.idx) or not token.is_alpha:
                continue
            n = self.sentence_of(token)
            within = self.ent_of.get(token.i)
            found = self.referent(token) if within is None or within.root == token else None
            misread = token.dep_ in _MISREAD_SUBJECT_DEPS and token.i < token.head.i
            source = token.dep_ == "pobj" and _after_according_to(token)  # a source speaks
            if token.dep_ in SUBJECT_DEPS or source or (misread and found is not None):
                self.subjects[n].append(token)  # "Early says"
            if found is not None and found.label == "PERSON":
                self.people[n].append(token)
        # The words written just before a person's name ("US President Donald Trump"), by
        # position: what "the president" may later refer to.
        self.roles: list[tuple[int, frozenset[str], Span]] = [
            (ent.start, self._role_words(ent), ent)
            for ent in doc.ents
            if ent.label_ == "PERSON" and not in_quote(ent.start_char)
        ]
        self.last_speaker: str | None = None

    def _role_words(self, ent: Span) -> frozenset[str]:
        """The words of a role written right before a name, across "of", "to" or "for" and
        a name after them ("Secretary of State", "ambassador to Britain")."""
        words: list[str] = []
        i, stop = ent.start - 1, max(ent.start - _ROLE_REACH, 0)
        while i >= stop:
            token, other = self.doc[i], self.ent_of.get(i)
            before = other.start - 1 if other is not None else -1
            if before >= stop and self.doc[before].lower_ in _ROLE_JOINERS:
                i = before - 1  # "ambassador to Britain"
                continue
            if words and token.lower_ in _ROLE_JOINERS:
                i -= 1  # "Secretary of State"
                continue
            if not token.is_alpha or token.is_stop or other is not None:
                break
            words.append(_fold(token.text))
            i -= 1
        return frozenset(words)

    def sentence_of(self, token: Token) -> int:
        return bisect.bisect_right(self.sent_starts, token.i) - 1

    # Names ---------------------------------------------------------------------------

    def referent(self, token: Token) -> _Referent | None:
        """The named person or organisation `token` belongs to, if any (rule 1)."""
        ent = self.ent_of.get(token.i)
        if ent is not None and ent.label_ in SPEAKER_LABELS:
            words = _name_words(ent)
            if ent.label_ == "PERSON" or given_name(words) or _titled(ent) or (
                self._ending_of(words) if len(words) > 1 else self._person_of(words[0])
            ):
                return self._person(words, ent.start)
            return _Referent(self.organisation_name(ent.text), ent.label_, None)
        if ent is not None or not token.is_alpha or token.lower_ in PRONOUNS:
            return None
        if token.is_title and self._person_of(token.text):
            return self._person((token.text,), token.i)
        return None

    def _person_of(self, word: str) -> set[str]:
        return self.person_words.get(_fold(word), set())

    def _ending_of(self, words: tuple[str, ...]) -> list[str]:
        """The persons' full names that end with `words` and are longer ("Le Clair" read as
        an organisation, of "Craig Le Clair")."""
        tail = " " + " ".join(words)
        return [n for n in self._person_of(words[-1]) if n.endswith(tail)]

    def _person(self, words: tuple[str, ...], start: int) -> _Referent:
        """A PERSON named by `words` (starting at token `start`), with its full name."""
        title = self._title_before(start)
        name = " ".join(words)
        endings = self._ending_of(words) if len(words) > 1 else []
        if len(endings) == 1:
            name = endings[0]
        elif len(words) == 1:
            longer = [n for n in self._person_of(words[0]) if n != name]
            if title is not None:
                longer = [n for n in longer if _agrees(self.gender(n), title)]
            if len(longer) == 1:
                name = longer[0]
        return _Referent(name, "PERSON", title or self.gender(name))

    def _title_before(self, start: int) -> str | None:
        if start == 0:
            return None
        word = _fold(self.doc[start - 1].text)
        if word == "." and start > 1:
            word = _fold(self.doc[start - 2].text)
        return "f" if word in FEMALE_TITLES else "m" if word in MALE_TITLES else None

    def gender(self, name: str) -> str | None:
        """A person's gender when a title or a common given name tells it."""
        words = [_fold(w) for w in name.split()]
        by_title = self.title_gender.get(" ".join(words))
        if by_title is not None:
            return by_title
        if words and words[0] in FEMALE_NAMES:
            return "f"
        if words and words[0] in MALE_NAMES:
            return "m"
        if len(words) > 1 and len(self._person_of(words[-1])) == 1:
            return self.title_gender.get(words[-1])
        return None

    def organisation_name(self, name: str) -> str:
        """An organisation's full name when `name` spells the initials of exactly one named
        in the article ("WHO" -> "World Health Organization")."""
        if not name.isupper() or not name.isalpha() or len(name) < 2:
            return name
        folded = name.casefold()
        spelled = {e.text for e in self.outside if e.label_ == "ORG" and _initials(e) == folded}
        return spelled.pop() if len(spelled) == 1 else name

    def is_speaker_like(self, token: Token) -> bool:
        """Whether a token could name a speaker where the parse gives no subject: a name, a
        pronoun, or someone speaking for an organisation ("said a WeWork spokesperson")."""
        if token.text in PRONOUNS or token.lower_ in REPRESENTATIVE_NOUNS:
            return True
        return self.referent(token) is not None

    # The rules -------------------------------------------------------------------------

    def name(self, token: Token, *, allow_climb: bool = True) -> Naming:
        """The speaker named by the subject `token` (see the module's rules)."""
        found = self.named(token)
        if found is not None:
            return Naming(found.name)
        if token.text in PRONOUNS:
            return Naming(self.antecedent(token), "pronoun")
        if token.lower_ in RELATIVE_PRONOUNS and token.text != "WHO":
            if not allow_climb or token.head.dep_ != "relcl":
                return _NOBODY
            noun = token.head.head
            if self.is_speaker_like(noun) or noun.dep_ in SUBJECT_DEPS or noun.dep_ == "appos":
                return self.name(noun, allow_climb=False)
            subject = governing_subject(noun)
            return self.name(subject, allow_climb=False) if subject is not None else _NOBODY
        if not token.is_alpha or (token.is_stop and not token.is_upper):
            return _NOBODY
        if _definite(token) or self._owned_by_name(token):  # "the US President" after
            role = self._by_role(token)  # "US President Donald Trump", "China's ambassador"
            if role is not None:
                return Naming(role, "descriptor")
        proper = self.proper_name(token)
        if proper is not None:
            return Naming(proper)
        return Naming(self.described(token), "descriptor")

    def proper_name(self, token: Token) -> str | None:
        """A name the model did not tag: an acronym ("WHO"), or a capitalised noun that does
        not merely open its sentence ("says Buser", "The United Nations High Commissioner for
        Human Rights"), with the capitalised words of a "for"/"of" after it and without a
        description before it ("Environmental organisation Frack Free Namibia")."""
        if token.is_upper and len(token) > 1 and token.is_alpha:
            if token.text in ROLE_ACRONYMS or _counted(token):
                return None  # "one neo-bank CEO", but "the DEA"
            return self.organisation_name(token.text)
        if not token.text[:1].isupper() or token.is_stop:  # "Buser", "WeWork"
            return None
        before = token.doc[token.sent.start : token.i]
        after_quote = token.i > 0 and token.nbor(-1).text in _CLOSING_MARKS  # “…?” Schiff asked
        opening = all(not t.is_alpha for t in before) and not (after_quote and not _plural(token))
        phrase = _noun_phrase(token)
        if opening and len(phrase.split()) == 1:
            return None
        written = phrase.split()  # "Environmental organisation Frack Free Namibia": the name
        common = [n for n, w in enumerate(written[:-1]) if w.islower() and w not in NAME_PARTICLES]
        words = [" ".join(written[common[-1] + 1 :]) if common else phrase]
        for child in token.rights:
            if child.dep_ == "prep" and child.lower_ in ("for", "of"):
                tail = list(takewhile(lambda t: not t.is_punct, child.subtree))
                if all(t.is_title or t.lower_ in ("of", "and", "for", "the") for t in tail):
                    words.append(" ".join(t.text for t in tail))
                break
        return " ".join(words)

    def antecedent(self, pronoun: Token, hops: int = 0) -> str | None:
        """What a personal pronoun refers to (rule 3), or None: sentence by sentence back
        from the pronoun, the latest agreeing subject (or what the same pronoun as the main
        subject of an earlier sentence refers to), else (he/she) the latest agreeing person
        named in those sentences, else the last speaker."""
        form = PRONOUNS[pronoun.text]
        wanted = {"he": "m", "she": "f"}.get(form)
        here = self.sentence_of(pronoun)
        reach = range(here, max(here - (3 if form == "they" else 12), -1), -1)
        for n in reach:
            for subject in _main_first(reversed(self.subjects[n])):
                if subject.i >= pronoun.i:
                    continue
                if subject.text in PRONOUNS:
                    chained = n < here and PRONOUNS[subject.text] == form
                    if chained and not _subordinate(subject) and hops < _PRONOUN_HOPS:
                        return self.antecedent(subject, hops + 1)  # "He said ... . he said"
                    continue
                found, stop = self._candidate(subject, form, wanted)
                if found is not None or stop:
                    return found
        if form in ("he", "she"):
            for n in reach:
                for token in reversed(self.people[n]):
                    person = self.referent(token)
                    if token.i < pronoun.i and person and _agrees(person.gender, wanted):
                        return person.name
            return self.last_speaker
        if form == "it":
            orgs = self._organisations_before(pronoun)
            return orgs[-1].text if orgs else None
        return None

    def _organisations_before(self, token: Token) -> list[Span]:
        """The organisations named outside quotations before `token`, in text order."""
        i = bisect.bisect_left(self.outside_starts, token.idx)
        return [e for e in self.outside[:i] if self._organisation(e)]

    def _organisation(self, ent: Span) -> bool:
        found = self.referent(ent[0]) if ent.label_ == "ORG" else None
        return found is not None and found.label == "ORG"

    def _candidate(self, subject: Token, form: str, wanted: str | None) -> tuple[str | None, bool]:
        """Whether an earlier subject is what a pronoun refers to: (name, stop searching)."""
        if subject.lower_ == "who" and subject.head.dep_ == "relcl":
            subject = subject.head.head  # "Ruth Chen, who said ..."
        found = self.named(subject)
        if found is None and not _has_determiner(subject):
            proper = self.proper_name(subject)  # a name the model did not tag
            if proper is not None and form in ("it", "they") and not self._person_of(proper):
                return proper, True  # an organisation
            if proper is not None and form in ("he", "she") and _person_like(proper):
                return (proper, True) if _agrees(self.gender(proper), wanted) else (None, False)
        if found is not None:
            if found.label == "PERSON":
                if form in ("he", "she") and _agrees(found.gender, wanted):
                    return found.name, True
                if form == "they" and found.gender is None:
                    return found.name, True
            elif form in ("it", "they"):
                return found.name, True
            return None, False
        noun = subject.lower_
        if form in ("it", "they") and noun in ORG_NOUNS | DOCUMENT_NOUNS:
            return self.described(subject), True
        if form == "they" and _plural(subject):
            return self._attached(subject), True
        if form in ("he", "she") and noun in REPRESENTATIVE_NOUNS | FEMALE_NOUNS | MALE_NOUNS:
            gender = "f" if noun in FEMALE_NOUNS else "m" if noun in MALE_NOUNS else None
            if _agrees(gender, wanted):
                return self.described(subject), True
        return None, False

    def named(self, token: Token) -> _Referent | None:
        """Whom a subject names itself or by an apposition, a person in apposition before an
        organisation ("MEC for Cooperative Governance, Jacob Mamabolo, said")."""
        found = self.referent(token)
        appos = self._appos(token)
        person_in_appos = appos is not None and appos.label == "PERSON"
        if found is None or (person_in_appos and found.label != "PERSON"):
            return appos
        return found

    def _appos(self, token: Token) -> _Referent | None:
        """A name in apposition to `token`, or to a noun of its relative clause ("The
        company that runs the AMAs, Dick Clark Productions, ...")."""
        for child in token.children:
            if child.dep_ == "appos":
                return self.referent(child)
            if child.dep_ == "relcl":
                for inner in child.subtree:
                    if inner.dep_ == "appos":
                        return self.referent(inner)
        return None

    def described(self, noun: Token) -> str | None:
        """Whom a descriptor subject describes (rule 4), or None."""
        word = noun.lower_
        if word in REPRESENTATIVE_NOUNS | DOCUMENT_NOUNS:
            attached = self._attached(noun)
            if attached is not None:
                return attached
            org_noun = next(
                (c for c in noun.children if c.dep_ in _ATTACHED_DEPS and c.lower_ in ORG_NOUNS),
                None,
            )
            if org_noun is not None:  # "a company spokesperson", "the ministry's statement"
                return self._described_before(org_noun)
            owner = next((c for c in noun.children if c.dep_ == "poss"), None)
            if owner is not None and owner.text in PRONOUNS:
                return self.antecedent(owner)
            author = self._author(noun) if word in DOCUMENT_NOUNS else None
            if author is not None:
                return author
            if word in REPRESENTATIVE_NOUNS and not _definite(noun):
                return self._organisation_subject(noun)
        elif word in STAFF_NOUNS:
            employer = self._employer(noun)
            if employer is not None:
                return employer
        elif word in ORG_NOUNS:
            modifiers = [c for c in noun.lefts if c.dep_ in _ATTACHED_DEPS]
            named = [c for c in modifiers if self._named_in(c.subtree)]
            if named:
                return self._organisation_phrase(noun, named[0])
        owned = word in FEMALE_NOUNS | MALE_NOUNS and any(c.dep_ == "poss" for c in noun.children)
        if not (_definite(noun) or owned or word.endswith("old")):  # "his aunt", "56-year-old"
            return None
        return self._by_role(noun) or self._described_before(noun)

    def _organisation_phrase(self, noun: Token, first: Token) -> str:
        """An organisation written as a noun after a name, from that name on, with what it is
        "on", "of" or "for" when that is a name: "the new House committee on China" ->
        "House committee on China"."""
        doc = noun.doc
        end = noun.i + 1
        for child in noun.rights:
            if child.dep_ == "prep" and child.lower_ in ("on", "of", "for"):
                objects = [c for c in child.children if c.dep_ == "pobj"]
                if objects and self._named_in([objects[0]]) is not None:
                    end = objects[0].right_edge.i + 1
                break
        return doc[first.left_edge.i : end].text

    def _organisation_subject(self, noun: Token) -> str | None:
        """The organisation named as a subject in the noun's sentence or the one before, for
        a spokesperson of no one named ("Customs and Border Protection did not accept the
        offer. A spokesperson said ..."), or None."""
        found = next(self._named_subjects(noun, 2), None)
        return found.name if found is not None and found.label == "ORG" else None

    def _named_subjects(self, noun: Token, sentences: int) -> Iterator[_Referent]:
        """Whom the subjects before `noun` name, in its sentence and the `sentences` - 1
        before it, latest first."""
        here = self.sentence_of(noun)
        for n in range(here, max(here - sentences, -1), -1):
            for subject in reversed(self.subjects[n]):
                found = self.referent(subject) if subject.i < noun.i else None
                if found is not None:
                    yield found

    def _introduced_as(self, noun: Token) -> str | None:
        """The organisation an earlier mention of the same noun was named as, in apposition
        ("The group, WeWorkers Coalition, formed ..." ... "the group added"), or None."""
        for token in self._mentions_before(noun):
            named = self._appos(token)
            if named is not None:
                return named.name
        return None

    def _mentions_before(self, noun: Token, reach: int = _MENTION_REACH) -> Iterator[Token]:
        """The earlier mentions of the noun's word outside quotations, in its sentence and
        the `reach` before it, latest first."""
        first = self.sent_starts[max(self.sentence_of(noun) - reach, 0)]
        for token in reversed(self.doc[first : noun.i]):
            if token.lower_ == noun.lower_ and not self.in_quote(token.idx):
                yield token

    def _owned_by_name(self, noun: Token) -> bool:
        """Whether a name owns the noun ("China's ambassador", "Google's chief executive")."""
        return any(c.dep_ == "poss" and self.referent(c) is not None for c in noun.children)

    def _by_role(self, noun: Token) -> str | None:
        """The latest person written with `noun` before their name ("US President Donald
        Trump" ... "the US President said"), else the first written so after it ("China's
        ambassador to Britain accused ..." ... "China's ambassador to Britain Liu Xiaoming"),
        or None."""
        word = _fold(noun.text)
        before = [ent for start, roles, ent in self.roles if start < noun.i and word in roles]
        after = [ent for start, roles, ent in self.roles if start > noun.i and word in roles]
        chosen = before[-1] if before else after[0] if after else None
        found = self.referent(chosen.root) if chosen is not None else None
        return found.name if found is not None else None

    def _described_before(self, noun: Token) -> str | None:
        """The named subject a definite description refers back to, or None."""
        word = noun.lower_
        gender = "f" if word in FEMALE_NOUNS else "m" if word in MALE_NOUNS else None
        if word in ORG_NOUNS:
            orgs = self._organisations_before(noun)
            named = [e for e in orgs if word in {_fold(w) for w in e.text.split()}]
            if named:
                return named[-1].text
            introduced = self._introduced_as(noun)
            if introduced is not None:
                return introduced
            for subject_named in self._named_subjects(noun, 3):
                if _organisation_of(subject_named.label, word):
                    return subject_named.name
            here = self.sentence_of(noun)
            if orgs and word in GENERIC_ORG_NOUNS:
                return orgs[-1].text
            recent = self.sent_starts[max(here - 2, 0)]
            near = [e for e in orgs if e.start >= recent]
            return near[-1].text if near else None
        here = self.sentence_of(noun)
        if _plural(noun):  # "the experts": a group, not one of the people named
            return self._group_of(noun)
        n, stop = here, max(here - 12, -1)
        while n > stop:
            for subject in reversed(self.subjects[n]):
                if subject.i >= noun.i or subject.text in PRONOUNS:
                    continue
                found = self.named(subject)
                if found is None:
                    if subject.lower_ != word:
                        continue
                    if word in REPRESENTATIVE_NOUNS:
                        return self.described(subject)
                    if not _definite(subject):  # "one legal expert" ... "the expert"
                        return None
                    stop = max(n - 12, -1)  # "the expert" again: whom that one refers to
                    continue
                if word in DOCUMENT_NOUNS:
                    return found.name
                if found.label == "PERSON" and _agrees(found.gender, gender):
                    return found.name
            n -= 1
        return None

    def _author(self, noun: Token) -> str | None:
        """Who issued a document: the one it is "by" ("a study conducted by Teri Allery");
        the subject of the clause that mentions it as an object ("The commission issued a
        statement warning that"); or for "the statement" the one of the clause that last
        mentioned one ("The company denied it in a statement", "The committee sent a
        letter"), or whose statement that was ("The Conservatives' letter said"), named or
        resolved in turn; else None."""
        mentions = chain([noun], self._mentions_before(noun)) if _definite(noun) else [noun]
        for token in mentions:
            if self.in_quote(token.idx):
                continue
            owner = self._agent(token) or (self._attached(token) if token != noun else None)
            if owner is not None:
                return owner
            if token.dep_ in SUBJECT_DEPS:
                continue
            subject = governing_subject(token)
            if subject is not None and subject.i < token.i:
                named = self.name(subject, allow_climb=False).name
                org_noun = next((t for t in subject.subtree if t.lower_ in ORG_NOUNS), None)
                if named is None and org_noun is not None and org_noun != subject:
                    return self.described(org_noun)  # "The company flat-out denied": "out" misread
                return named
        return None

    def _attached(self, noun: Token) -> str | None:
        """The organisation or person a noun belongs to: "a Northwind spokesman", "a
        spokeswoman for Northwind", "Northwind's statement"."""
        for child in noun.children:
            if child.dep_ in _ATTACHED_DEPS:
                found = self._named_in(child.subtree)
                if found is not None:
                    return found
            elif child.dep_ == "prep" and child.lower_ in _ATTACHING_PREPS:
                objects = [c for c in child.children if c.dep_ == "pobj"]
                if objects:
                    found = self._named_in(objects[0].subtree)
                    if found is not None:
                        return found
        return None

    def _agent(self, noun: Token) -> str | None:
        """Whom a participle after the noun names after "by" ("a study conducted by Teri
        Allery", "a letter signed by the committee"), or None."""
        for verb in noun.children:
            agent = passive_agent(verb) if verb.dep_ == "acl" else None
            if agent is not None:
                found = self.referent(agent)
                return found.name if found is not None else None
        return None

    def _employer(self, noun: Token) -> str | None:
        """The organisation named after "at" or "from" a staff noun ("analysts at Boston
        Consulting Group"), or None."""
        for child in noun.children:
            if child.dep_ == "prep" and child.lower_ in ("at", "from"):
                for target in child.children:
                    found = self.referent(target) if target.dep_ == "pobj" else None
                    if found is not None and found.label == "ORG":
                        return found.name
        return None

    def _group_of(self, noun: Token) -> str | None:
        """The organisation a plural noun's group was written as part of, at this mention or
        any earlier one in the article ("The doctors, members of Doctors for Camp Closure,
        ..." ... "the doctors stated"), or None."""
        mentions = chain([noun], self._mentions_before(noun, reach=len(self.sent_starts)))
        return next(filter(None, map(self._membership, mentions)), None)

    def _membership(self, group: Token) -> str | None:
        """The organisation a group of people was written as part of ("lawmakers on the
        House Oversight Committee", "The doctors, members of Doctors for Camp Closure"),
        whose words the group's are, or None."""
        preps = ("on", "of") if group.lower_ in _MEMBER_NOUNS else ("on",)
        for child in group.children:
            if child.dep_ == "appos" and child.lower_ in _MEMBER_NOUNS:
                return self._membership(child)
            if child.dep_ == "prep" and child.lower_ in preps:
                for target in child.children:
                    found = self._organisation_in(target) if target.dep_ == "pobj" else None
                    if found is not None:
                        return found
        return None

    def _organisation_in(self, noun: Token) -> str | None:
        """The organisation a noun names with its modifiers or its appositive ("a new group
        Physicians for Fair Care"), tagged or not, or None."""
        appositives = [c.doc[c.left_edge.i : c.i + 1] for c in noun.children if c.dep_ == "appos"]
        for part in chain(noun.doc[noun.left_edge.i : noun.i + 1], *appositives):
            found = self.referent(part)
            if found is not None:
                return found.name if found.label == "ORG" else None
            proper = self.proper_name(part) if part.dep_ in ("pobj", "compound") else None
            if proper is not None:
                return proper
        return None

    def _named_in(self, tokens: Iterable[Token]) -> str | None:
        """The first name among `tokens`, tagged by the model or not ("a WeWork spokesman")."""
        for token in tokens:
            found = self.referent(token)
            if found is not None:
                return found.name
            proper = self.proper_name(token) if token.dep_ == "compound" else None
            if proper is not None:
                return proper
        return None


def passive_agent(verb: Token) -> Token | None:
    """Whom a verb in the passive is by: the object of its "by" ("told by Maria Lopez")."""
    for child in verb.children:
        if child.dep_ == "agent":
            return next((c for c in child.children if c.dep_ == "pobj"), None)
    return None


def _organisation_of(label: str, noun: str) -> bool:
    """Whether a name with `label` can be what an organisation noun refers to: an
    organisation, or for "the government" also a country ("the alliance" is not Ukraine)."""
    return label == "ORG" or (label != "PERSON" and noun in STATE_NOUNS)


def _name_words(ent: Span) -> tuple[str, ...]:
    """An entity's words without a title before them ("Ms. Berg" -> ("Berg",))."""
    words = [w for w in ent.text.split()]
    while len(words) > 1 and _fold(words[0]) in FEMALE_TITLES | MALE_TITLES | {"dr", "prof"}:
        words.pop(0)
    if _titled(ent):
        words = split_title(ent.text)[0].split()
    return tuple(words)


def _appositive_gender(ent: Span) -> str | None:
    """The gender of a noun the name stands in apposition to, or the other way round."""
    root = ent.root
    nouns = [root.head] if root.dep_ == "appos" else []
    nouns += [c for c in root.children if c.dep_ == "appos"]
    for noun in nouns:
        if noun.lower_ in FEMALE_NOUNS:
            return "f"
        if noun.lower_ in MALE_NOUNS:
            return "m"
    return None


def _initials(ent: Span) -> str:
    return "".join(t.lower_[0] for t in ent if t.is_title or t.is_upper)


def _titled(ent: Span) -> bool:
    """Whether an entity of another label is a person's name after an abbreviated or
    hyphenated title ("Major-Gen Gopaul Govender", "Sen. Ward"; not "General Motors")."""
    name, title = split_title(ent.text)
    if title is None or not name:
        return False
    words = title.split()
    short = all(w.endswith(".") or "-" in w for w in words)
    return short and not {_fold(w) for w in words} & PLACE_TITLES


def _person_like(name: str) -> bool:
    """Whether an untagged name could be a person's: two to four capitalised words ("Eswar
    Prasad"; "Eswar Prasad of Cornell" is a phrase)."""
    words = name.split()
    return 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words)


def given_name(words: tuple[str, ...]) -> bool:
    """Whether an entity of another label reads as a person ("Penelope Muse Abernathy")."""
    first = _fold(words[0])
    return 2 <= len(words) <= 4 and (first in FEMALE_NAMES or first in MALE_NAMES)


def _counted(token: Token) -> bool:
    """Whether a noun comes with an indefinite article or a number ("a CEO", "one CEO")."""
    return any(
        c.dep_ == "nummod" or (c.dep_ == "det" and c.lower_ in ("a", "an", "one"))
        for c in token.children
    )


def _after_according_to(token: Token) -> bool:
    to = token.head
    return to.lower_ == "to" and to.i > 0 and to.nbor(-1).lower_ == "according"


def _definite(noun: Token) -> bool:
    determiner = next((c for c in noun.children if c.dep_ == "det"), None)
    return determiner is not None and determiner.lower_ in _DEFINITE


def _has_determiner(token: Token) -> bool:
    return any(child.dep_ in ("det", "poss") for child in token.children)


def _main_first(subjects: Iterable[Token]) -> list[Token]:
    """A sentence's subjects, those of a clause that only subordinates (what someone did or
    was said to do: "Khan alleged that Munir was behind it", "Assad, who was deposed") after
    the others, each group in the order given."""
    return sorted(subjects, key=_subordinate)  # stable: False (main) before True


def _subordinate(subject: Token) -> bool:
    """Whether a subject's verb is in a subordinate clause and reports no one's words or
    thoughts (a "said that ..." relative clause is not subordinate here), or is itself in
    what someone else says or thinks ("Melber speculates that Geingob may have realised")."""
    verb = subject.head
    while verb.dep_ == "conj" and verb.head.i != verb.i:
        verb = verb.head
    if verb.dep_ in ("ccomp", "xcomp"):  # inside what someone else said or thought
        return True
    return verb.dep_ != "ROOT" and not any(c.dep_ == "ccomp" for c in subject.head.children)


def governing_subject(token: Token) -> Token | None:
    """The subject of the nearest clause above `token` ("Kim left a book which read: ...")."""
    while token.head.i != token.i:  # a new Token object each time: compare positions
        token = token.head
        subject = next((c for c in token.children if c.dep_ in SUBJECT_DEPS), None)
        if subject is not None and subject.lower_ not in RELATIVE_PRONOUNS:
            return subject
    return None


def _noun_phrase(token: Token) -> str:
    """The noun with its left modifiers, without a leading determiner."""
    start = token.i
    for child in token.lefts:
        if child.dep_ in _NOUN_PHRASE_DEPS:
            start = min(start, child.left_edge.i)
    doc = token.doc
    while start < token.i and doc[start].dep_ == "det":
        start += 1
    return doc[start : token.i + 1].text
