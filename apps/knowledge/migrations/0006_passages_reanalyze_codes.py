from django.db import migrations


def passages_reanalyze(apps, schema_editor):
    # The analyzer now makes every code one term (LM-2041, lm2041: lm2041), so the terms stored
    # before it must be recomputed, as kb_reindex does; vectors stay. This runs the analyzer of
    # the release being installed, which is what the indexes must match.
    Passage = apps.get_model("knowledge", "Passage")
    if not Passage.objects.using(schema_editor.connection.alias).exists():
        return
    from apps.knowledge.models import Collection
    from apps.knowledge.services.content import collection_reindex

    for collection in Collection.objects.all():
        collection_reindex(collection=collection)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0005_field_verbose_names"),
    ]

    operations = [
        migrations.RunPython(passages_reanalyze, migrations.RunPython.noop, elidable=True),
    ]
