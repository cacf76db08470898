from __future__ import annotations

from django.apps import AppConfig
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
