from __future__ import annotations

from apps.knowledge.search.analyzer import Analyzer, Tuning, analyzer_for


def test_english_words_are_lowercased_and_stemmed() -> None:
    assert Analyzer(Tuning()).terms("Refunds for RETURNED lamps") == [
        "refund",
        "for",
        "return",
        "lamp",
    ]


def test_chinese_is_segmented_into_words() -> None:
    terms = Analyzer(Tuning()).terms("退款多久到账")
    assert "退款" in terms
    assert "多久" in terms


def test_mixed_chinese_and_english_keeps_both() -> None:
    terms = Analyzer(Tuning()).terms("Ember灯泡支持WiFi吗")
    assert "ember" in terms
    assert "wifi" in terms
    assert "灯泡" in terms


def test_dictionary_word_keeps_a_product_name_whole() -> None:
    assert "光环落地灯" not in Analyzer(Tuning()).terms("光环落地灯怎么安装")
    tuned = Analyzer(Tuning(version=1, words=(("光环落地灯", None),)))
    assert "光环落地灯" in tuned.terms("光环落地灯怎么安装")


def test_a_dictionary_compound_is_followed_by_its_parts_for_words_inside_it() -> None:
    tuned = Analyzer(Tuning(version=1, words=(("智能灯泡", None),)))
    tokens = tuned.tokens("智能灯泡可以退货")
    # "灯泡" finds a passage saying "智能灯泡"; a question's parts count only without the whole.
    assert [(t.term, t.part_of) for t in tokens[:3]] == [
        ("智能灯泡", None),
        ("智能", "智能灯泡"),
        ("灯泡", "智能灯泡"),
    ]
    synonymous = Analyzer(
        Tuning(version=2, words=(("智能灯泡", None),), synonyms=(("智能灯泡", "smart bulb"),))
    )
    whole, *parts = synonymous.tokens("智能灯泡")
    assert whole.term == synonymous.terms("smart bulb")[0]
    assert [(t.term, t.part_of) for t in parts] == [("智能", whole.term), ("灯泡", whole.term)]


def test_a_compound_part_that_is_a_synonym_is_indexed_as_its_class() -> None:
    tuned = Analyzer(Tuning(version=1, words=(("智能灯泡", None),), synonyms=(("灯泡", "bulb"),)))
    bulb = tuned.terms("bulb")[0]
    # "灯泡坏了" and "bulb" find a passage saying "智能灯泡坏了": the part is the class's term.
    assert tuned.terms("灯泡坏了")[0] == bulb
    assert [(t.term, t.surface) for t in tuned.tokens("智能灯泡坏了")[1:3]] == [
        ("智能", "智能"),
        (bulb, "灯泡"),
    ]


def test_removing_a_dictionary_word_restores_the_default_cut() -> None:
    analyzer_for(Tuning(version=1, words=(("光环落地灯", None),)))
    assert "光环落地灯" not in analyzer_for(Tuning(version=2)).terms("光环落地灯怎么安装")


def test_protected_pattern_is_one_exact_term_plus_its_parts() -> None:
    analyzer = Analyzer(Tuning(version=1, patterns=(r"[A-Z]{2}-\d{4}",)))
    assert analyzer.terms("LM-2041多少钱") == ["lm2041", "lm", "2041", "多少", "钱"]
    # The parts say which code they belong to: a question weighs them only without it.
    assert [t.part_of for t in analyzer.tokens("LM-2041多少钱")] == [
        None,
        "lm2041",
        "lm2041",
        None,
        None,
    ]


def test_protected_code_typed_without_its_hyphen_gives_the_same_term() -> None:
    analyzer = Analyzer(Tuning(version=1, patterns=(r"[A-Z]{2}-\d{4}",)))
    assert "lm2041" in analyzer.terms("price of lm2041")


def test_full_width_code_is_folded_to_ascii() -> None:
    analyzer = Analyzer(Tuning(version=1, patterns=(r"[A-Z]{2}-\d{4}",)))
    assert analyzer.terms("ＬＭ－２０４１")[0] == "lm2041"


def test_synonyms_share_one_term_across_languages() -> None:
    analyzer = Analyzer(Tuning(version=1, synonyms=(("退款", "退钱", "refund"),)))
    (refund,) = analyzer.terms("refunds")
    assert analyzer.terms("退钱") == [refund]
    assert analyzer.terms("退款") == [refund]


def test_multi_word_synonym_is_matched_as_a_phrase() -> None:
    analyzer = Analyzer(Tuning(version=1, synonyms=(("refund", "money back"),)))
    assert analyzer.terms("I want my money back") == ["i", "want", "my", *analyzer.terms("refund")]
    assert "back" in analyzer.terms("come back later")


def test_groups_sharing_a_term_are_one_class_named_by_the_oldest_group() -> None:
    analyzer = Analyzer(
        Tuning(version=1, synonyms=(("退款", "退钱", "refund"), ("refunds", "money back")))
    )
    assert analyzer.terms("money back") == analyzer.terms("退款") == analyzer.terms("refund")
    # Joined through a later group: x = y, z = w, then y = z.
    bridged = Analyzer(Tuning(version=1, synonyms=(("x", "y"), ("z", "w"), ("y", "z"))))
    assert {bridged.terms(t)[0] for t in "xyzw"} == {"≡x"}


def test_tokens_keep_the_words_as_typed_for_explanations() -> None:
    analyzer = Analyzer(Tuning(version=1, synonyms=(("退款", "退钱"),)))
    (token,) = analyzer.tokens("退钱")
    assert token.surface == "退钱"


def test_hostile_input_does_not_break_the_analyzer() -> None:
    analyzer = Analyzer(Tuning(version=1, patterns=(r"[A-Z]{2}-\d{4}",)))
    for text in [
        "",
        "\x00\x01",
        "‮‭",
        "😀" * 50,
        "a" * 10000,
        "<script>alert(1)</script>",
        "%s %d {0}",
    ]:
        assert isinstance(analyzer.terms(text), list)


def test_a_code_is_one_term_and_its_parts_however_it_is_written() -> None:
    # No pattern needed: letters then digits, touching or hyphenated, are a code.
    analyzer = Analyzer(Tuning())
    for written in ("LM-2041", "lm2041", "ＬＭ－２０４１"):
        assert analyzer.terms(written) == ["lm2041", "lm", "2041"], written
        assert [t.part_of for t in analyzer.tokens(written)] == [None, "lm2041", "lm2041"]
    assert analyzer.terms("COVID-19 and E27") == ["covid19", "covid", "19", "and", "e27", "e", "27"]


def test_a_code_typed_with_a_space_is_offered_by_a_question_only() -> None:
    analyzer = Analyzer(Tuning())
    # In a passage "in 30 days" is words; a question offers the code, for search to keep only
    # where the knowledge base has it.
    assert analyzer.terms("LM 2041 in 30 days") == ["lm", "2041", "in", "30", "day"]
    offered = [(t.term, t.only_if_known) for t in analyzer.tokens("LM 2041", question=True)]
    assert offered == [("lm2041", True), ("lm", False), ("2041", False)]
