"""llm_chat with no model configured says why the offline answerer is silent, and exits 1."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_llm_chat_on_the_default_setup_fails_saying_the_offline_answerer_needs_passages(
    chain, site
):
    chain()  # nothing configured: the offline answerer
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command(
            "llm_chat",
            "how long does shipping take",
            "--site",
            site.public_key,
            "--json",
            stdout=out,
            stderr=StringIO(),
        )

    assert "offline/extractive" in str(raised.value)
    assert "answers only by quoting knowledge-base passages" in str(raised.value)
    assert "CSBOT_LLM_CHAIN" in str(raised.value)
    result = json.loads(out.getvalue())
    assert (result["outcome"], result["text"]) == ("complete", "")
