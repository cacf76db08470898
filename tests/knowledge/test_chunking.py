from __future__ import annotations

from apps.knowledge.chunking import markdown_chunks


def test_each_section_becomes_a_passage_with_its_heading_path() -> None:
    body = (
        "Intro text.\n\n# Returns\n## Refund times\nThree days.\n"
        "## Exchanges\nThirty days.\n# Shipping\nFree."
    )
    chunks = markdown_chunks(body)
    assert [(c.heading_path, c.text) for c in chunks] == [
        ((), "Intro text."),
        (("Returns", "Refund times"), "Three days."),
        (("Returns", "Exchanges"), "Thirty days."),
        (("Shipping",), "Free."),
    ]


def test_headings_without_text_add_no_passage() -> None:
    assert markdown_chunks("# Empty\n## Also empty\n") == []


def test_hash_lines_inside_code_fences_are_not_headings() -> None:
    chunks = markdown_chunks("# Setup\n```\n# not a heading\n```\nDone.")
    assert len(chunks) == 1
    assert "# not a heading" in chunks[0].text


def test_long_sections_are_packed_by_paragraph_under_the_cap() -> None:
    paragraphs = [f"Paragraph {n} " + "word " * 30 for n in range(20)]
    chunks = markdown_chunks("# Long\n" + "\n\n".join(paragraphs), max_chars=400)
    assert len(chunks) > 1
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.heading_path == ("Long",) for c in chunks)
    assert "Paragraph 0" in chunks[0].text
    assert "Paragraph 19" in chunks[-1].text


def test_a_paragraph_longer_than_the_cap_is_cut_at_sentence_ends() -> None:
    text = "退货须在三十天内申请。" * 60
    chunks = markdown_chunks(text, max_chars=100)
    assert all(len(c.text) <= 100 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_nothing_is_lost_when_a_single_word_exceeds_the_cap() -> None:
    word = "x" * 250
    chunks = markdown_chunks(word, max_chars=100)
    assert "".join(c.text for c in chunks) == word
