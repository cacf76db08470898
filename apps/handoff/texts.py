"""What the visitor is told when their conversation changes hands, in their language.

Kept here rather than in gettext catalogues: a visitor's language is not the request's, and these
lines must read right in both languages whether or not compiled catalogues are deployed.
"""

from __future__ import annotations

from apps.core.lib.languages import CHINESE, ENGLISH

_TEXTS: dict[str, dict[str, str]] = {
    "waiting": {
        ENGLISH: "An agent will join shortly.",
        CHINESE: "正在为您转接人工客服，请稍候。",
    },
    "joined": {
        ENGLISH: "{agent} from {team} joined the conversation.",
        CHINESE: "客服 {agent}（{team}）已加入对话。",
    },
    "transferred_team": {
        ENGLISH: "You are being transferred to {team}. An agent will join shortly.",
        CHINESE: "正在为您转接至{team}，请稍候。",
    },
    "handed_back": {
        ENGLISH: "You are chatting with the assistant again.",
        CHINESE: "您现在继续与智能助手对话。",
    },
    "closed": {
        ENGLISH: "This conversation has been closed. Send a message to start a new one.",
        CHINESE: "本次对话已结束。发送消息即可开始新的对话。",
    },
    "unavailable_outside_hours": {
        ENGLISH: "Our team is outside business hours right now. "
        "Leave a message and we will get back to you.",
        CHINESE: "当前不在人工客服工作时间。请留言，我们会尽快回复您。",
    },
    "unavailable_nobody_online": {
        ENGLISH: "No agent is available right now. Leave a message and we will get back to you.",
        CHINESE: "暂时没有在线的人工客服。请留言，我们会尽快回复您。",
    },
    "message_left": {
        ENGLISH: "Thank you, we received your message. We will reply here and by email to {email}.",
        CHINESE: "已收到您的留言。我们会在这里回复您，并发送邮件至 {email}。",
    },
    # The bot, asked again for a person while the conversation's ticket is still open.
    "team_has_it": {
        ENGLISH: "Our team already has your message and will reply here.",
        CHINESE: "我们的客服团队已收到您的留言，会在这里回复您。",
    },
    "team_has_it_email": {
        ENGLISH: "Our team already has your message and will reply here and by email to {email}.",
        CHINESE: "我们的客服团队已收到您的留言，会在这里回复您，并发送邮件至 {email}。",
    },
    # After either, when the visitor asked for a person again.
    "team_has_it_add": {
        ENGLISH: "If you have something to add, write it here and it goes to them with your "
        "message.",
        CHINESE: "如需补充，请直接在这里输入，会与您的留言一并转给客服。",
    },
    # A visitor who starts waiting for an agent: their place, and the measured wait if any.
    "queue_position": {
        ENGLISH: "You are number {position} in the queue.",
        CHINESE: "您目前排在第 {position} 位。",
    },
    "queue_wait": {
        ENGLISH: "The wait is usually {wait}.",
        CHINESE: "通常需要等待{wait}。",
    },
    "wait_a_minute": {ENGLISH: "about a minute", CHINESE: "约 1 分钟"},
    "wait_minutes": {ENGLISH: "about {minutes} minutes", CHINESE: "约 {minutes} 分钟"},
    "wait_an_hour": {ENGLISH: "about an hour", CHINESE: "约 1 小时"},
    "wait_hours": {ENGLISH: "about {hours} hours", CHINESE: "约 {hours} 小时"},
    "reply_email_subject": {
        ENGLISH: "Reply from {site}",
        CHINESE: "{site} 回复了您的留言",
    },
    "reply_email_footer": {
        ENGLISH: "You can also read and answer this in the chat on our website.",
        CHINESE: "您也可以回到我们网站的在线客服窗口查看并回复。",
    },
}


def text_for(key: str, language: str, **values: str) -> str:
    """Return the visitor-facing line ``key`` in ``language``, with ``values`` filled in."""
    template = _TEXTS[key].get(language) or _TEXTS[key][ENGLISH]
    return template.format(**values)


def sentences(language: str, *texts: str) -> str:
    """Join sentences as the language writes them: Chinese without spaces between them."""
    return ("" if language == CHINESE else " ").join(texts)


def team_has_it(language: str, *, email: str) -> str:
    """Say the team already has the visitor's message and replies here (and, with ``email``,
    by email there)."""
    if email:
        return text_for("team_has_it_email", language, email=email)
    return text_for("team_has_it", language)
