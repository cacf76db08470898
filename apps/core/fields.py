"""Model fields for any app."""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import MultiFernet
from django.conf import settings
from django.db import models

from apps.core.lib.sealed import UnsealError, seal, sealer, unseal

logger = logging.getLogger(__name__)


def _sealer() -> MultiFernet:
    return sealer([settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS])


class SealedCharField(models.TextField):
    """Text that is sealed in the database and plain in Python (apps/core/lib/sealed.py).

    Sealed values differ on every save, so the field cannot be filtered or indexed on. A value no
    configured key opens reads as empty and is logged (without the value): the admin then shows
    that no key is stored, and calls with it fail as unauthenticated until the key is re-entered.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return value
        try:
            return unseal(value, using=_sealer())
        except UnsealError as exc:
            logger.error("%s.%s: %s", self.model.__name__, self.name, exc)
            return ""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value if value is None else seal(value, using=_sealer())
