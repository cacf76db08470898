"""Nothing to do: passages stored before codes became one term are re-analysed by kb_reindex.

This migration used to recompute every passage's terms with the analyser of the release being
installed (codes as one term: LM-2041, lm2041 → lm2041). That meant importing today's models and
services (``apps.knowledge.services.content.collection_reindex``, which reads the current
``Passage``, ``FAQEntry`` and tuning models): a migration run before a later one that changes
those tables, or after that code changes, would query columns that do not exist yet or call
code that no longer exists, and break ``migrate`` for every database still behind.

Historical models (``apps.get_model``) cannot stand in: the terms *are* the analyser's output,
and the analyser (segmenter, tuning, code rule) is code, not schema. So the re-analysis is left
to code that always runs the installed analyser on the installed schema: ``migrate`` itself,
once every migration is applied (``TuningState.analyzer_version`` older than
``ANALYZER_VERSION``; apps/knowledge/apps.py), or ``python manage.py kb_reindex`` by hand.

On a fresh database there are no passages, so nothing is lost there (docs/knowledge.md,
*Freshness on every worker*). The migration stays, empty: databases have it recorded as
applied, and the next one depends on it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0005_field_verbose_names"),
    ]

    operations = []
