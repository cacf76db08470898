"""The console's styles come from its stylesheet, static/console/console.css, not the page."""

from __future__ import annotations

import pytest

from tests.browser.test_console import console as console  # the fixture: Mei's console

pytestmark = [pytest.mark.browser]


def test_the_consoles_rules_all_come_from_console_css(console):
    sheets = console.evaluate(
        """() => [...document.styleSheets].map(sheet => ({
            href: sheet.href && new URL(sheet.href).pathname,
            selectors: [...sheet.cssRules].map(rule => rule.selectorText).filter(Boolean)}))"""
    )
    assert [sheet["href"] for sheet in sheets] == ["/static/console/console.css"]
    # Among them, the transcript's files: thumbnails and PDF chips.
    assert ".msg .attachment img" in sheets[0]["selectors"]
