"""Language of an article: declared codes trusted unless the text clearly says otherwise."""

from __future__ import annotations

from tasks.language import declared_language, detect_language, guess_language

# Short news paragraphs written for these tests.
SWAHILI = (
    "Serikali imetangaza kwamba shule zote za msingi zitafunguliwa tena wiki ijayo baada ya "
    "mvua kubwa kunyesha katika mikoa mingi ya pwani. Wazazi wameombwa kuwapeleka watoto wao "
    "shuleni mapema."
)
ZULU = (
    "Uhulumeni umememezele ukuthi zonke izikole zamabanga aphansi zizovulwa futhi ngesonto "
    "elizayo ngemuva kokuna kwezimvula ezinkulu ezifundazweni eziningi. Abazali bacelwe ukuthi "
    "bayise izingane zabo esikoleni ngesikhathi."
)
DANISH = (
    "Regeringen har meddelt, at alle folkeskoler åbner igen i næste uge, efter at kraftig regn "
    "har ramt mange kystområder. Forældrene bliver bedt om at sende deres børn i skole i god tid."
)
CZECH = (
    "Vláda oznámila, že všechny základní školy se příští týden znovu otevřou poté, co silný déšť "
    "zasáhl mnoho pobřežních oblastí. Rodiče jsou žádáni, aby své děti poslali do školy včas."
)
TURKISH = (
    "Hükümet, kıyı bölgelerinin çoğunu etkileyen şiddetli yağmurların ardından tüm ilkokulların "
    "gelecek hafta yeniden açılacağını duyurdu. Velilerden çocuklarını okula zamanında "
    "göndermeleri istendi."
)
CHINESE_WITH_MIDDLE_DOT = (
    "政府宣布，由于沿海多个地区遭遇强降雨，所有小学将于下周重新开学。家长被要求按时送孩子上学。"
    "市长・李明表示，交通将恢复正常。"
)
MIXED = (
    "Der Stadtrat hat beschlossen, den Hafen zu erweitern. The council said the harbour would "
    "reopen next week after the storm. Die Fischer sind zufrieden."
)


def test_language_beyond_a_stop_word_list_is_identified() -> None:
    assert guess_language(SWAHILI) == "sw"
    assert detect_language(TURKISH) == "tr"


def test_declared_language_is_kept_when_the_text_agrees() -> None:
    assert detect_language(CZECH, "cs-CZ") == "cs"
    assert detect_language(TURKISH, "tr") == "tr"


def test_template_language_is_overridden_when_the_text_clearly_is_another() -> None:
    assert detect_language(ZULU, "en-GB", None, "en_GB") == "zu"


def test_closely_related_language_does_not_contradict_the_declared_one() -> None:
    assert detect_language(DANISH, "nb-NO") == "nb"


def test_declared_language_stands_against_too_little_text() -> None:
    assert detect_language("The council said the harbour would reopen next week.", "tr") == "tr"


def test_declared_language_stands_when_the_identifier_is_not_sure() -> None:
    assert detect_language(MIXED, "fr") == "fr"


def test_chinese_with_a_katakana_middle_dot_is_chinese() -> None:
    assert detect_language(CHINESE_WITH_MIDDLE_DOT) == "zh"


def test_no_guess_for_too_little_text() -> None:
    assert guess_language("Der Hafen ist zu.") is None
    assert detect_language("", None) is None


def test_declared_codes_are_read_from_locales() -> None:
    assert declared_language(None, "utf-8", "pt_BR") == "pt"


def test_cantonese_text_is_reported_as_chinese() -> None:
    text = "我哋今日喺度講緊嘅係香港嘅交通問題，啲巴士成日都遲到，乘客好唔開心。"
    assert detect_language(text) == "zh"
    assert detect_language(text, "zh-HK") == "zh"
