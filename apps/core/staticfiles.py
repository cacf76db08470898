"""collectstatic writes the widget script minified: it is what every page of a site loads.

Only whitespace and comments go (``rjsmin``; names are kept, so errors in a browser's console
still read like the source), and the licence comment (``/*! … */``) stays. The source stays
readable and commented; ``runserver`` and the embedded default serve it as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import rjsmin
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.files.base import ContentFile

MINIFIED = ("csbot/widget.js",)


class WidgetMinifyingStorage(StaticFilesStorage):
    def post_process(
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str, bool]]:
        if dry_run:
            return
        for name in MINIFIED:
            if name not in paths:
                continue
            with self.open(name) as collected:
                source = collected.read().decode("utf-8")
            self.delete(name)
            self.save(name, ContentFile(widget_minify(source).encode("utf-8")))
            yield name, name, True


def widget_minify(source: str) -> str:
    return rjsmin.jsmin(source, keep_bang_comments=True)
