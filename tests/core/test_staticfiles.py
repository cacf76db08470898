"""collectstatic writes the widget script minified, within its size budget."""

from __future__ import annotations

import gzip
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

SOURCE = Path(settings.BASE_DIR) / "static/csbot/widget.js"
# docs/widget.md, *Size and speed*: what a page loads, gzipped as nginx serves it.
BUDGET_GZIPPED = 20 * 1024


def test_collectstatic_minifies_the_widget_within_its_budget(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    collected = (tmp_path / "csbot/widget.js").read_text("utf-8")
    source = SOURCE.read_text("utf-8")

    assert len(collected) < 0.8 * len(source)
    assert collected.startswith("/*! csbot chat widget")  # the licence comment stays
    assert "// --- connection" in source
    assert "// --- connection" not in collected
    assert len(gzip.compress(collected.encode(), 9)) <= BUDGET_GZIPPED
    # Other scripts are copied as they are.
    console = Path(settings.BASE_DIR) / "static/console/console.js"
    assert (tmp_path / "console/console.js").read_bytes() == console.read_bytes()
