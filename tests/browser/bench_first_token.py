"""Benchmark: from the answerer yielding a token to the browser painting it, on loopback.

    .venv/bin/python -m pytest -q -s tests/browser/bench_first_token.py
    (BENCH_RUNS=20 by default; add DATABASE_URL and REDIS_URL for the production parts)

Not collected with the suite: it measures, it asserts nothing. The scripted answerer stamps
``time.time()`` just before yielding each token; the page stamps ``performance.timeOrigin +
performance.now()`` in the first animation frame after a MutationObserver sees the token in the
widget (the frame it is painted in). The first token includes creating the reply's row and
announcing it (``message.new``); later tokens are a delta each. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics

import pytest
from django.db import connection
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser]

TOKENS = ["Parcels ", "ship ", "within ", "48 hours."]
# Resolves with the paint time of each prefix of the next new bot message.
OBSERVE = """(prefixes) => {
  const root = document.querySelector('csbot-widget').shadowRoot;
  const old = new Set(root.querySelectorAll('.msg.bot'));
  const painted = [];
  window.__painted = new Promise(resolve => {
    const check = () => {
      const el = [...root.querySelectorAll('.msg.bot')].find(m => !old.has(m));
      const text = el ? el.querySelector('.bubble').textContent : '';
      while (painted.length < prefixes.length && text.startsWith(prefixes[painted.length])) {
        const index = painted.push(null) - 1;
        requestAnimationFrame(() => {
          painted[index] = performance.timeOrigin + performance.now();
          if (painted.every(t => t !== null) && painted.length === prefixes.length) {
            observer.disconnect();
            resolve(painted);
          }
        });
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(root, {subtree: true, childList: true, characterData: true});
  });
}"""


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
    }


def test_first_token_to_paint(page, live_app, demo_site, answer, settings):
    runs = int(os.environ.get("BENCH_RUNS", "20"))
    settings.CSBOT_MESSAGES_PER_MINUTE = 100_000
    answer.tokens = TOKENS
    answer.delay = 0.05  # tokens far enough apart to be painted in frames of their own
    prefixes = ["".join(TOKENS[: i + 1]).strip() for i in range(len(TOKENS))]
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_role("textbox", name="Message")

    first, later = [], []
    for run in range(runs + 1):  # the first run warms up and is not counted
        page.evaluate(OBSERVE, prefixes)
        box.fill(f"question {run}")
        box.press("Enter")
        painted = page.evaluate("window.__painted")
        expect(page.locator("csbot-widget .msg.bot").last.locator(".bubble")).to_have_text(
            "".join(TOKENS)
        )
        yielded = answer.token_times[-1]
        if run:
            first.append(painted[0] - yielded[0] * 1000)
            later.extend(p - y * 1000 for p, y in zip(painted[1:], yielded[1:], strict=True))

    print(
        json.dumps(
            {
                "benchmark": "widget first token to paint (loopback)",
                "database": connection.vendor,
                "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
                "runs": runs,
                "first_token_ms": summary(first),
                "later_tokens_ms": summary(later),
            }
        )
    )
