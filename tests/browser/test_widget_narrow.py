"""The widget's header on the narrowest phones: the status stays whole beside the human button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.handoff.services import ticket_solve
from tests.browser.test_widget import PHONE, widget
from tests.browser.test_widget_csat import with_an_agent
from tests.browser.test_widget_handoff import mei, support  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser]

STATE_CUT = "el => el.scrollWidth > el.clientWidth"


@pytest.mark.parametrize(
    ("browser_context_args", "label", "state"),
    [
        ({**PHONE, "viewport": {"width": 320, "height": 640}}, "Open chat", "Virtual assistant"),
        ({**PHONE, "viewport": {"width": 360, "height": 740}}, "Open chat", "Virtual assistant"),
        (
            {**PHONE, "locale": "zh-CN", "viewport": {"width": 320, "height": 640}},
            "打开在线客服",
            "智能客服",
        ),
    ],
)
def test_the_header_status_is_whole_on_a_320_px_screen(page, live_app, demo_site, label, state):
    page.goto(live_app.url + "/")
    page.get_by_role("button", name=label).tap()
    status = widget(page, ".state")
    expect(status).to_have_text(state)
    expect(widget(page, ".human")).to_be_visible()
    assert not status.evaluate(STATE_CUT)
    assert widget(page, ".head").evaluate("el => el.scrollWidth <= el.clientWidth")


@pytest.mark.parametrize(
    "browser_context_args", [{**PHONE, "viewport": {"width": 320, "height": 640}}]
)
def test_a_closed_conversations_status_is_whole_beside_the_human_button_at_320_px(
    page,
    live_app,
    demo_site,
    mei,  # noqa: F811 (the fixture imported above)
    answer,
):
    ticket_id = with_an_agent(page, live_app, mei)
    live_app.call(ticket_solve, ticket_id=ticket_id, agent=mei)
    status = widget(page, ".state")
    expect(status).to_have_text("Conversation closed")
    expect(widget(page, ".human")).to_be_visible()
    # Too long for one line beside the button: it wraps onto a second, whole.
    assert not status.evaluate(STATE_CUT)
    assert status.evaluate("el => el.getBoundingClientRect().height") < 40
    assert widget(page, ".head").evaluate("el => el.scrollWidth <= el.clientWidth")
