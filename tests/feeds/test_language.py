"""Language of the text: each script and language told apart, the feed's declaration weighed,
and a rule's `lang` scope following the text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.feeds import detect_language
from monitor.feeds._normalize import normalize_entries
from monitor.feeds._parse import parse_feed
from tests.rules.builders import rule, rules

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

SAMPLES = {
    "ar": "أفاد سكان محليون بأن قافلة من الشاحنات عبرت الجسر الشرقي في ساعة مبكرة",
    "fa": "ساکنان محلی گفتند که یک کاروان کامیون پیش از طلوع از پل شرقی گذشت",
    "ckb": "دانیشتووانی ناوچەکە وتیان کاروانێکی بارهەڵگر بەیانی زوو لە پردەکە پەڕییەوە",
    "he": "תושבים מקומיים סיפרו כי שיירת משאיות חצתה את הגשר המזרחי מוקדם בבוקר",
    "tr": "Yerel halk, bir kamyon konvoyunun sabah erken saatlerde köprüden geçtiğini söyledi",
    "en": "Local residents said a convoy of lorries crossed the eastern bridge early this morning",
}


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_each_language(lang):
    """Arabic, Persian, Sorani, Hebrew, Turkish and English are told apart."""
    assert detect_language(SAMPLES[lang]) == lang


def test_turkish_names_in_english_stay_english():
    """Turkish letters in names do not make an English report Turkish."""
    text = "Erdoğan and Kılıçdaroğlu met in Ankara on Tuesday, officials said."
    assert detect_language(text) == "en"


def test_majority_script_wins():
    """An English report quoting a few Arabic words is English."""
    assert detect_language(SAMPLES["en"] + " (الجسر الشرقي)") == "en"


def test_declared_latin_language_is_kept():
    """Latin text without Turkish marks keeps a declared Latin-script language."""
    assert detect_language("Des habitants ont vu un convoi traverser le pont", "fr") == "fr"
    assert detect_language(SAMPLES["en"], "ar") == "en"  # an Arabic feed's English item


def test_no_letters():
    """Text without letters has no language."""
    assert detect_language("") is None
    assert detect_language("2026 — 42 / 7") is None


def test_only_the_start_of_a_long_text_is_read():
    """The cost is bounded by a sample of the text's start, whatever its length: a text whose
    first 2,000 characters are Arabic is Arabic, however much Hebrew follows."""
    text = (SAMPLES["ar"] + " ") * 100
    assert detect_language(text[:2000] + SAMPLES["he"] * 100_000) == "ar"


ARABIC_IN_EN_FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Mixed</title>'
    "<link>https://mixed.example/</link><language>en-GB</language>"
    f"<item><title>{SAMPLES['ar']}</title><guid>m-1</guid></item>"
    f"<item><title>{SAMPLES['en']}</title><guid>m-2</guid></item>"
    "</channel></rss>"
).encode()


def test_item_keeps_declared_and_detected():
    """An item in Arabic from a feed that says en keeps both: lang en, text_lang ar."""
    arabic, english = normalize_entries(
        parse_feed(ARABIC_IN_EN_FEED), feed_id="mixed", received=NOW
    )
    assert (arabic.lang, arabic.text_lang) == ("en", "ar")
    assert (english.lang, english.text_lang) == ("en", "en")


def test_rule_lang_scope_follows_the_text(tmp_path):
    """A rule scoped `lang: ar` matches the Arabic item of an en feed; `lang: en` does not."""
    ruleset = rules(
        tmp_path,
        "\n---\n".join(
            [
                rule("sel: {lang: ar}\nw: {text: [قافلة, convoy]}\ncondition: sel and w", "ar"),
                rule("sel: {lang: en}\nw: {text: [قافلة, convoy]}\ncondition: sel and w", "en"),
            ]
        ),
    )
    arabic, english = normalize_entries(
        parse_feed(ARABIC_IN_EN_FEED), feed_id="mixed", received=NOW
    )
    assert [m.rule_id for m in ruleset.match(arabic)] == ["ar"]
    assert [m.rule_id for m in ruleset.match(english)] == ["en"]
