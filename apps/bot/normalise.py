"""Step 1: the visitor's language, and a follow-up turned into a question that stands alone.

Pure functions. The rule-based rewrite is what the offline answerer uses; with a model chain the
pipeline asks the model (``prompts.rewrite_messages``) and falls back to these rules.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from apps.core.lib.languages import CHINESE, ENGLISH

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Han characters at least this share of the letters: Chinese (mixed "LM-2041 多少钱" included).
_HAN_SHARE = 0.3
# A Han character says about as much as three Latin letters (a Chinese text has about a third of
# the characters of its English translation): "我想退货，but I lost the receipt" is a Chinese
# visitor's question, while "Does 顺丰 deliver to Hong Kong?" stays English.
_HAN_WEIGHT = 3

# A follow-up leans on an earlier question: it opens like one, or points back at something.
_EN_FOLLOW_UP_START = re.compile(
    r"^(?:and|also|so|then|but|what about|how about|what if|and if|same for|is that|is it|"
    r"does it|do they|can it|can i (?:also|still)|what else|any other|which one|why)\b",
    re.IGNORECASE,
)
_EN_POINTER = re.compile(
    r"\b(?:it|its|it's|that|this|those|these|they|them|there|one|ones|the same)\b", re.IGNORECASE
)
# A fragment that is only a prepositional phrase ("and for electronics?", "on smart bulbs?",
# "what about in white?") asks the question before again about something else: it narrows the
# earlier topic and cannot change it, however well its noun alone matches another entry.
_EN_NARROWING = re.compile(
    r"^(?:(?:and|but|so|also|then|what about|how about)\s+)?"
    r"(?:for|on|to|in|into|with|without|from|at|by|during|outside|inside|within|under|over|via)"
    r"\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
# A verb or a question word of its own makes it a new question ("In which cities do you
# deliver?"), not a fragment.
_EN_CLAUSE_WORD = re.compile(
    r"\b(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|be|do|does|did|can|"
    r"could|will|would|should|may|might|must|have|has|had|i|you|we)\b",
    re.IGNORECASE,
)
# Phrases of the same shape that narrow nothing: idioms ("by the way", "for real?", "at all?",
# "on second thought") and requests about the conversation itself ("in Chinese please", "with
# an agent"). Answering them as the question before would repeat its answer.
_EN_IDIOM = re.compile(
    r"^(?:the\s+)?(?:way|real|all|sure|now|once|second|example|instance)\b", re.IGNORECASE
)
_EN_ABOUT_THE_CHAT = re.compile(
    r"\b(?:english|chinese|mandarin|cantonese|someone|somebody|anyone|anybody|person|human|"
    r"agent|staff)\b",
    re.IGNORECASE,
)
# What opens a fragment ("and for electronics?", "what about the warranty?"); the rest says
# whether it is a clause of its own.
_EN_FRAGMENT_OPENER = re.compile(
    r"^(?:and|also|so|then|but|what about|how about|what if|and if|same for)\s+", re.IGNORECASE
)
_EN_CONTRACTION = re.compile(r"\w'(?:s|re|m|ve|ll|d)\b", re.IGNORECASE)
_ZH_FOLLOW_UP_START = re.compile(r"^(?:那|那么|还有|另外|然后|如果|要是|也|这个|那个|它|这款|那款)")
_ZH_POINTER = re.compile(r"(?:它|这个|那个|这款|那款|这种|那种|该|这些|那些|上面|刚才)")
_ZH_ELLIPSIS_END = re.compile(r"呢[？?。.!！]*$")
# Questions this short (words; Chinese characters) may lean on the conversation unsaid.
_EN_SHORT = 6
_ZH_SHORT = 10

_AFFIRMATIVE = re.compile(
    r"^(?:yes|yeah|yep|yes please|sure|ok|okay|please|please do|go ahead|"
    r"是|是的|好|好的|好啊|嗯|嗯嗯|可以|要|需要|行|麻烦了|麻烦你了)$",
    re.IGNORECASE,
)
# "No thanks" / "不用了，谢谢" after the offer of a person: the visitor carries on with the bot.
_DECLINE = re.compile(
    r"^(?:no|nope|nah|no thanks|no thank you|not now|no need|not needed|i'm fine|i'm good|"
    r"不|不用|不用了|不要|不要了|不需要|不需要了|不必|不必了|算了|没事|没事了|不了)"
    r"(?: ?(?:thanks|thank you|谢谢|谢谢你|谢谢啦|谢啦))?$",
    re.IGNORECASE,
)
_TRAILING = re.compile(r"[\s\W_]+$")
_PUNCTUATION = re.compile(r"[^\w']+")


def language_detect(text: str, *, fallback: str) -> str:
    """``zh-hans`` or ``en`` from the words themselves; ``fallback`` when they do not say.

    "ok", "LM-2041" or "?" say nothing: the conversation's language stays.
    """
    han = len(_HAN.findall(text))
    latin_words = _LATIN_WORD.findall(text)
    latin = sum(len(word) for word in latin_words)
    if han and han * _HAN_WEIGHT / (han * _HAN_WEIGHT + latin) >= _HAN_SHARE:
        return CHINESE
    if len(latin_words) >= 2 or (latin_words and not han and latin >= 4):
        return ENGLISH
    return fallback


def cache_form(text: str) -> str:
    """The question as the answer cache sees it: width, case, spaces and end punctuation folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = " ".join(folded.split())
    return _TRAILING.sub("", folded)


def is_affirmative(text: str) -> bool:
    """A bare "yes" / "好的": an answer to the bot's offer, not a question."""
    return bool(_AFFIRMATIVE.match(cache_form(text)))


def is_decline(text: str) -> bool:
    """A bare "no thanks" / "不用了，谢谢": a refusal of the bot's offer, not a question."""
    words = " ".join(_PUNCTUATION.sub(" ", cache_form(text)).split())
    return bool(_DECLINE.match(words))


def is_follow_up(text: str, language: str) -> bool:
    """Whether ``text`` probably leans on the previous question (and must be rewritten)."""
    stripped = text.strip()
    if language == CHINESE:
        length = len(_HAN.findall(stripped))
        if _ZH_FOLLOW_UP_START.match(stripped) and length <= _ZH_SHORT * 2:
            return True
        if _ZH_ELLIPSIS_END.search(stripped) and length <= _ZH_SHORT:
            return True
        return bool(_ZH_POINTER.search(stripped)) and length <= _ZH_SHORT
    words = stripped.split()
    if _EN_FOLLOW_UP_START.match(stripped) and len(words) <= _EN_SHORT * 2:
        return True
    if keeps_topic(stripped, language):
        return True
    return bool(_EN_POINTER.search(stripped)) and len(words) <= _EN_SHORT


def keeps_topic(text: str, language: str) -> bool:
    """Whether the follow-up ``text`` only narrows the question before ("and for electronics?").

    Such a follow-up is answered joined to that question even when its best hit has none of
    its words: the earlier answer is what applies ("returns of electronics" are returns). In
    Chinese, "那退货呢？" changes the topic and "那新疆呢？" narrows it in the same words, so
    only the search can tell them apart.
    """
    if language == CHINESE:
        return False
    fragment = _EN_NARROWING.match(text.strip())
    return (
        fragment is not None
        and len(text.split()) <= _EN_SHORT
        and not _EN_CLAUSE_WORD.search(fragment["rest"])
        and not _EN_IDIOM.match(fragment["rest"])
        and not _EN_ABOUT_THE_CHAT.search(fragment["rest"])
    )


def is_fragment(text: str, language: str) -> bool:
    """Whether ``text``, written in ``language``, is a short follow-up with no clause of its own:
    "and for electronics?", "what about the warranty?", "那发票呢？", not "Is it waterproof?".

    A fragment in the other language does not change the conversation's language
    (``turn_language``): it is a visitor borrowing a few words, who reads the conversation's.
    """
    stripped = text.strip()
    if language == CHINESE:
        return bool(_ZH_ELLIPSIS_END.search(stripped)) and is_short(stripped)
    rest = _EN_FRAGMENT_OPENER.sub("", stripped)
    return (
        is_short(stripped)
        and is_follow_up(stripped, language)
        and not _EN_CLAUSE_WORD.search(rest)
        and not _EN_CONTRACTION.search(rest)
    )


def turn_language(text: str, *, established: str, follows: bool) -> str:
    """The language to answer ``text`` in, in a conversation held in ``established``.

    The message's own language (``language_detect``), except that a fragment in the other
    language following an earlier message (``follows``) keeps ``established``: "and for
    electronics?" after "保修多久？" is answered in Chinese, while "How long does shipping
    take?" is answered in English and holds the conversation in it from then on.
    """
    spoken = language_detect(text, fallback=established)
    if follows and established and spoken != established and is_fragment(text, spoken):
        return established
    return spoken


def is_short(text: str) -> bool:
    """Short enough to be an elliptical follow-up ("需要工具吗？", "in white?")."""
    han = len(_HAN.findall(text))
    if han:
        return han <= _ZH_SHORT
    return len(text.split()) <= _EN_SHORT


@dataclass(frozen=True)
class Standalone:
    """The question to search and answer, and how it was obtained."""

    text: str
    # "" (asked as is), "rules" or "model".
    rewrite: str = ""
    # Joined by the rules: the visitor's own words in ``text``, what the answer is about.
    focus: str = ""


def rewrite_by_rules(question: str, previous: str) -> Standalone:
    """Join a follow-up to the question it leans on; search then sees both topics.

    "What about Xinjiang?" after "How long does delivery take?" becomes "How long does delivery
    take? What about Xinjiang?": crude, but the words that matter are all there, and the
    answerer weighs the rarer ones (Xinjiang) most, and quotes sentences that have the
    follow-up's words when there are any.
    """
    separator = "" if _HAN.search(previous) else " "
    asked = question.strip()
    return Standalone(f"{previous.strip()}{separator}{asked}", "rules", focus=asked)
