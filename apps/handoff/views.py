"""The agent console page; everything after the first load travels over its websocket."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.handoff.protocol import MAX_FAQ_QUESTION_CHARS, MAX_MESSAGE_CHARS, MAX_NOTE_CHARS
from apps.handoff.selectors import display_name, user_is_agent


@login_required
def console(request: HttpRequest) -> HttpResponse:
    """Serve the console to agents; other signed-in users are told how to become one."""
    if not user_is_agent(user=request.user):
        return render(request, "console/not_an_agent.html", status=403)
    return render(
        request,
        "console/index.html",
        {
            "agent_name": display_name(request.user),
            # What the socket accepts (apps/handoff/protocol.py): the page counts against it.
            "max_reply_chars": MAX_MESSAGE_CHARS,
            "max_note_chars": MAX_NOTE_CHARS,
            "max_faq_question_chars": MAX_FAQ_QUESTION_CHARS,
        },
    )
