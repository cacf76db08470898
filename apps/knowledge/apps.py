from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge base")

    def ready(self) -> None:
        # numpy first: threadpoolctl can only limit the BLAS libraries already loaded.
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_limits

        # Search multiplies small matrices on workers that share the cores. With OpenBLAS's own
        # threads a 10k-passage dense search took 13 / 28 ms p50 / p95 on the busy 2-core
        # machine (threads spin-waiting for a core), with one thread 1.3 / 5.4 ms.
        threadpool_limits(limits=1, user_api="blas")

        from apps.core.memo import forget_on_change
        from apps.knowledge.models import Collection
        from apps.knowledge.search.embedders import embeddings_config_check

        embeddings_config_check()

        forget_on_change(Collection, Collection.sites.through)
        post_migrate.connect(_passages_reanalyze_after_migrate, sender=self)


def _passages_reanalyze_after_migrate(
    *, using: str, verbosity: int, plan: list[Any] | None = None, **kwargs: Any
) -> None:
    """After ``migrate``, bring passages analysed by an older analyzer up to date.

    Not in a migration: the terms are the installed analyzer's output on the installed schema,
    which only a fully migrated database has (so never after a partial or backwards migrate).
    ``flush`` sends this signal too, without a plan, and leaves no passages to re-analyse.
    """
    if plan is None or using != DEFAULT_DB_ALIAS:
        return  # flush, or a database csbot does not keep its knowledge in
    executor = MigrationExecutor(connections[using])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return
    from apps.knowledge.services.content import passages_reanalyze_if_outdated

    count = passages_reanalyze_if_outdated()
    if count and verbosity:
        print(f"  Re-analysed {count} passages for the installed search analyzer.")
