"""What the bot itself says (not the knowledge base's words), in the visitor's language.

Kept here rather than in gettext catalogues: the visitor's language is not the request's, and
these lines must read right in both languages whether or not compiled catalogues are deployed.
"""

from __future__ import annotations

from apps.core.lib.languages import CHINESE, ENGLISH

# After a "no thanks" to the offer of a person, and after a bare "ok" that answers nothing.
_CARRY_ON = {
    ENGLISH: "All right. Is there anything else I can help you with?",
    CHINESE: "好的。还有什么可以帮您的吗？",
}

_TEXTS: dict[str, dict[str, str]] = {
    # No grounded answer: say so plainly, never guess, and offer a person.
    "abstain": {
        ENGLISH: "I couldn't find this in our help centre, so I'd rather not guess. "
        "Would you like to talk to someone from our team?",
        CHINESE: "抱歉，帮助中心里没有找到这个问题的答案，我不想随意猜测。需要为您转接人工客服吗？",
    },
    "abstain_handoff": {
        ENGLISH: "I couldn't find this in our help centre, so I'm passing you to a colleague.",
        CHINESE: "抱歉，帮助中心里没有找到这个问题的答案，正在为您转接人工客服。",
    },
    "refuse": {
        ENGLISH: "Sorry, I can't help with that here. Is there anything about your order or "
        "our products I can help with?",
        CHINESE: "抱歉，这个问题我无法回答。关于订单或商品还有什么可以帮您？",
    },
    "refuse_handoff": {
        ENGLISH: "Sorry, I can't answer that myself; I'm passing you to a colleague.",
        CHINESE: "抱歉，这个问题我无法回答，正在为您转接人工客服。",
    },
    "handover": {
        ENGLISH: "All right, I'm passing you to a colleague.",
        CHINESE: "好的，正在为您转接人工客服。",
    },
    # The same, when nobody can take the conversation now: handoff's own line follows, offering
    # to leave a message, so these promise no colleague.
    "abstain_alone": {
        ENGLISH: "I couldn't find this in our help centre, so I'd rather not guess.",
        CHINESE: "抱歉，帮助中心里没有找到这个问题的答案，我不想随意猜测。",
    },
    "refuse_alone": {
        ENGLISH: "Sorry, I can't answer that myself.",
        CHINESE: "抱歉，这个问题我无法回答。",
    },
    "unavailable_alone": {
        ENGLISH: "Sorry, I can't answer right now.",
        CHINESE: "抱歉，我现在暂时无法回答。",
    },
    "handover_alone": {
        ENGLISH: "All right.",
        CHINESE: "好的。",
    },
    "declined": _CARRY_ON,
    # Pleasantries (``smalltalk.py``): answered in kind, nothing searched, nobody offered.
    "small_talk_greeting": {
        ENGLISH: "Hello! What can I help you with today?",
        CHINESE: "您好！请问有什么可以帮您？",
    },
    "small_talk_help": {
        ENGLISH: "Of course. What would you like to know?",
        CHINESE: "当然可以，请问您想了解什么？",
    },
    "small_talk_thanks": {
        ENGLISH: "You're welcome! Is there anything else I can help you with?",
        CHINESE: "不客气！还有什么可以帮您的吗？",
    },
    "small_talk_goodbye": {
        ENGLISH: "Thank you for chatting with us. Goodbye!",
        CHINESE: "感谢您的咨询，再见！",
    },
    "small_talk_acknowledged": _CARRY_ON,
    "small_talk_bot": {
        ENGLISH: "I'm the virtual assistant: I answer from our help centre. "
        "What would you like to know?",
        CHINESE: "我是智能助手，会根据帮助中心的内容为您解答。请问您想了解什么？",
    },
    # Nobody can take the conversation and the visitor was told so already (handoff's line
    # with the form): no person is offered again, the form is where a message goes.
    "abstain_nobody": {
        ENGLISH: "I couldn't find this in our help centre, so I'd rather not guess. "
        "Our team is not available right now; you can leave them a message with the form.",
        CHINESE: "抱歉，帮助中心里没有找到这个问题的答案，我不想随意猜测。"
        "目前没有客服在线，您可以通过留言表单给我们留言。",
    },
    "unavailable": {
        ENGLISH: "Sorry, I can't answer right now; I'm passing you to a colleague.",
        CHINESE: "抱歉，我现在暂时无法回答，正在为您转接人工客服。",
    },
}


def text_for(key: str, language: str) -> str:
    """Return the bot's line ``key`` in ``language`` (English when it has no translation)."""
    lines = _TEXTS[key]
    return lines.get(language) or lines[ENGLISH]
