"""Sealed secrets: unreadable at rest, readable with the current or an earlier secret key."""

from __future__ import annotations

import pytest

from apps.core.lib.sealed import PREFIX, UnsealError, seal, sealer, unseal

KEY = "sk-live-abcdef0123456789"


def test_a_sealed_value_hides_the_secret_and_opens_again() -> None:
    using = sealer(["current secret"])

    sealed = seal(KEY, using=using)

    assert sealed.startswith(PREFIX)
    assert KEY not in sealed
    assert unseal(sealed, using=using) == KEY
    # A fresh nonce every time: equal keys do not show as equal ciphertext.
    assert seal(KEY, using=using) != sealed


def test_sealing_is_idempotent_and_leaves_empty_values_alone() -> None:
    using = sealer(["current secret"])
    sealed = seal(KEY, using=using)

    assert seal(sealed, using=using) == sealed
    assert seal("", using=using) == ""


def test_a_value_stored_before_sealing_reads_as_it_is() -> None:
    assert unseal(KEY, using=sealer(["current secret"])) == KEY


def test_an_earlier_secret_key_still_opens_while_it_is_a_fallback() -> None:
    sealed = seal(KEY, using=sealer(["old secret"]))

    assert unseal(sealed, using=sealer(["new secret", "old secret"])) == KEY
    with pytest.raises(UnsealError, match="CSBOT_SECRET_KEY_FALLBACKS"):
        unseal(sealed, using=sealer(["new secret"]))


def test_a_tampered_value_is_refused() -> None:
    using = sealer(["current secret"])
    sealed = seal(KEY, using=using)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]

    with pytest.raises(UnsealError):
        unseal(tampered, using=using)
