"""Pleasantries ("hi", "谢谢", "can you help me?") told apart from questions, by the whole message.

A message is small talk only when nothing but pleasantries is in it: "hi, how do I return a
lamp?" is a question and goes on to search. Pure functions.
"""

from __future__ import annotations

import re

from apps.bot.normalise import cache_form

# Most specific first: "hi, can you help me?" is answered as the request for help it ends with.
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "bot",
        (
            r"are you (?:a |an )?(?:bot|robot|ai|machine|real person|real|human|person)",
            r"am i (?:talking|chatting|speaking) (?:to|with) (?:a )?(?:bot|robot|machine|human|"
            r"real person|person)",
            r"is this (?:a )?(?:bot|robot|chatbot|real person)",
            r"who are you",
            r"what are you",
            r"(?:你|您)?是(?:不是)?(?:机器人|真人|人工|ai|智能客服|智能助手|人)(?:吗|嘛|么)?",
            r"(?:你|您)是谁",
        ),
    ),
    (
        "help",
        (
            r"(?:can|could|would) you (?:please )?help(?: me)?(?: please)?",
            r"(?:i )?need (?:some )?help",
            r"help(?: me)?(?: please)?",
            r"please help(?: me)?",
            r"(?:can|may) i ask (?:you )?(?:a question|something)",
            r"i have (?:a|some) questions?",
            r"(?:你|您)?(?:能|可以|能不能|可不可以)帮(?:帮)?我(?:一下)?(?:吗|嘛|么)?",
            r"帮帮我",
            r"(?:我)?(?:想|要)?(?:咨询|请教|问)(?:一下|个问题|一个问题|点事)",
            r"(?:我)?有(?:个|一个|几个)问题(?:想问)?",
            r"请问",
        ),
    ),
    (
        "goodbye",
        (
            r"(?:good ?)?bye(?: bye)?",
            r"see (?:you|ya)(?: later)?",
            r"have a (?:nice|good|great) (?:day|evening|weekend)",
            r"that'?s all",
            r"that is all",
            r"再见",
            r"拜拜",
            r"没有了",
            r"没(?:有)?别的(?:问题)?了",
            r"就这些(?:了)?",
        ),
    ),
    (
        "thanks",
        (
            r"(?:ok |okay |great |perfect |cool )?(?:thanks|thank you|thx|ty|cheers|many thanks)"
            r"(?: (?:a lot|so much|very much|again|for (?:your|the) help|for helping))?",
            r"(?:much )?appreciated",
            r"(?:(?:好的|好|嗯|ok) ?)?(?:谢谢|多谢|感谢|谢了|谢啦|谢谢啦|太感谢了|非常感谢)"
            r"(?:你|您)?(?:了|啦|啊|呀)?",
            r"辛苦(?:了|啦)",
        ),
    ),
    (
        "greeting",
        (
            r"(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening)|morning)"
            r"(?: there| everyone| all)?(?: again)?",
            r"(?:i'?m |i am )?back(?: again)?",
            r"(?:你好|您好|嗨|哈喽|哈啰|在吗|在不在|早上好|下午好|晚上好|早安)(?:啊|呀|哦)?",
            r"我(?:又)?回来了",
        ),
    ),
)
_ALTERNATIVES = {kind: "|".join(phrases) for kind, phrases in _KINDS}
# One or more pleasantries and nothing else ("hi there, thanks!", "你好，在吗", "你好在吗").
_ONLY_PLEASANTRIES = re.compile(rf"^(?:(?:{'|'.join(_ALTERNATIVES.values())}) ?)+$", re.IGNORECASE)
# Latin phrases as whole words ("hi" is not in "this"); Chinese has no spaces to look for.
_KIND_FOUND = {
    kind: re.compile(rf"(?<![a-z])(?:{alternatives})(?![a-z])", re.IGNORECASE)
    for kind, alternatives in _ALTERNATIVES.items()
}
_SEPARATORS = re.compile(r"[^\w']+")


def small_talk_kind(text: str) -> str:
    """``bot``, ``help``, ``goodbye``, ``thanks`` or ``greeting`` for a message that is only
    pleasantries, else "" (a question, however politely put)."""
    words = " ".join(_SEPARATORS.sub(" ", cache_form(text)).split())
    if not words or not _ONLY_PLEASANTRIES.match(words):
        return ""
    return next(kind for kind, found in _KIND_FOUND.items() if found.search(words))
