"""passages_search over the database: what is searchable, what a hit says, and freshness."""

from __future__ import annotations

import pytest

from apps.knowledge.models import (
    Article,
    Collection,
    DictionaryWord,
    FAQEntry,
    ProtectedPattern,
    Status,
    SynonymGroup,
)
from apps.knowledge.search.engine import indexes_drop
from apps.knowledge.selectors import kb_version, passages_search
from apps.knowledge.services.content import (
    article_create,
    entries_delete,
    entries_set_status,
    entry_save,
    faq_create,
)
from apps.knowledge.services.tuning import tuning_delete, tuning_save
from tests.security.blns import naughty_strings

pytestmark = pytest.mark.django_db


def _titles(query: str, collections: list[Collection], limit: int = 5) -> list[str]:
    return [hit.title for hit in passages_search(query=query, collections=collections, limit=limit)]


def test_english_question_finds_the_section_that_answers_it(help_centre: Collection) -> None:
    (best, *_) = passages_search(
        query="how fast do refunds arrive", collections=[help_centre], limit=3
    )
    assert best.title == "Returns and refunds"
    assert best.heading_path == ("Refund times",)
    assert "Alipay within 3 days" in best.text
    assert best.kind == "passage"
    assert best.external_id == "returns-en"
    assert "refunds" in best.matched_terms


def test_chinese_question_finds_the_chinese_faq_with_its_answer(help_centre: Collection) -> None:
    (best, *_) = passages_search(query="退款要多久才能到账", collections=[help_centre], limit=3)
    assert best.kind == "faq"
    assert best.title == "退款多久到账？"
    assert best.answer == "仓库收到退货后3个工作日内原路退款。"
    assert best.faq_id is not None
    assert best.article_id is None
    assert {"退款", "多久"} <= set(best.matched_terms)


def test_faq_alternative_phrasings_are_searchable(help_centre: Collection) -> None:
    (best, *_) = passages_search(query="my lamp broke", collections=[help_centre], limit=1)
    assert best.title == "How long is the warranty?"
    assert best.answer == "Lamps have a 2-year warranty."


def test_hit_scores_are_explained_and_confidence_is_a_probability(help_centre: Collection) -> None:
    hits = passages_search(query="warranty for my lamp", collections=[help_centre], limit=5)
    assert hits
    for hit in hits:
        assert 0.0 <= hit.confidence <= 1.0
        assert hit.semantic_score is None  # dense retrieval is off in these tests
        assert hit.lexical_score >= 0
    assert hits[0].fused_score >= hits[-1].fused_score
    assert hits[0].confidence > hits[-1].confidence


def test_confidence_is_low_when_the_question_is_about_something_else(
    help_centre: Collection,
) -> None:
    (on_topic, *_) = passages_search(query="how long is the warranty", collections=[help_centre])
    off_topic = passages_search(query="what is the capital of France", collections=[help_centre])
    assert on_topic.confidence > 0.6
    assert all(hit.confidence < 0.3 for hit in off_topic)


def test_article_url_is_its_public_page_or_csbots_own(collection: Collection) -> None:
    own = article_create(
        collection=collection,
        title="Lamp care",
        body="Dust it.",
        language="en",
        status=Status.PUBLISHED,
    )
    linked = article_create(
        collection=collection,
        title="Lamp cleaning",
        body="Dust it gently.",
        language="en",
        status=Status.PUBLISHED,
        source_url="https://shop.example.com/help/cleaning",
    )
    urls = {
        hit.article_id: hit.url for hit in passages_search(query="dust", collections=[collection])
    }
    assert urls[own.pk] == f"/kb/{collection.slug}/{own.pk}/"
    assert urls[linked.pk] == "https://shop.example.com/help/cleaning"


def test_drafts_and_archived_entries_are_never_found(collection: Collection) -> None:
    article_create(collection=collection, title="Secret plan", body="zebra launch", language="en")
    faq_create(
        collection=collection,
        question="Zebra?",
        answer="zebra",
        language="en",
        status=Status.ARCHIVED,
    )
    assert passages_search(query="zebra", collections=[collection]) == []


def test_only_the_requested_collections_are_searched(
    help_centre: Collection, other_collection: Collection
) -> None:
    article_create(
        collection=other_collection,
        title="Other refund rules",
        body="Refunds take a year.",
        language="en",
        status=Status.PUBLISHED,
    )
    assert "Other refund rules" not in _titles("refund", [help_centre])
    assert _titles("refund", [other_collection]) == ["Other refund rules"]
    assert "Other refund rules" in _titles("refund", [help_centre, other_collection], limit=10)


def test_an_edit_is_searchable_on_the_next_search(help_centre: Collection) -> None:
    assert passages_search(query="tangerine", collections=[help_centre]) == []
    article = Article.objects.get(external_id="returns-en")
    article.body += "\n\n## Gift wrap\nTangerine paper is free."
    entry_save(entry=article)
    (hit,) = passages_search(query="tangerine", collections=[help_centre])
    assert hit.heading_path == ("Gift wrap",)
    assert hit.text == "Tangerine paper is free."


def test_an_edit_replaces_the_old_text_in_results(help_centre: Collection) -> None:
    faq = FAQEntry.objects.get(external_id="faq-warranty")
    passages_search(query="warranty", collections=[help_centre])  # builds the index
    faq.answer = "Lamps now have a 3-year warranty."
    entry_save(entry=faq)
    (best, *_) = passages_search(query="warranty", collections=[help_centre])
    assert best.answer == "Lamps now have a 3-year warranty."


@pytest.mark.parametrize("external_id", ["faq-warranty", "returns-en"])
def test_an_entry_moved_to_another_collection_is_found_there_only(
    help_centre: Collection, other_collection: Collection, external_id: str
) -> None:
    model = FAQEntry if external_id.startswith("faq-") else Article
    entry = model.objects.get(external_id=external_id)
    query = "warranty" if model is FAQEntry else "return"
    assert entry.pk in _entry_ids(query, [help_centre], model)  # the old index is built
    version = kb_version(collections=[help_centre])
    entry.collection = other_collection  # nothing else changed: moved to an internal one
    entry_save(entry=entry)
    assert entry.pk not in _entry_ids(query, [help_centre], model)
    assert entry.pk in _entry_ids(query, [other_collection], model)
    assert (
        kb_version(collections=[help_centre]) != version
    )  # cached answers citing it are not reused


def _entry_ids(query: str, collections: list[Collection], model: type) -> set[int]:
    hits = passages_search(query=query, collections=collections, limit=20)
    return {hit.faq_id if model is FAQEntry else hit.article_id for hit in hits}


def test_unpublishing_and_deleting_take_entries_out_at_once(help_centre: Collection) -> None:
    assert "配送说明" in _titles("包邮", [help_centre])
    entries_set_status(
        entries=Article.objects.filter(external_id="shipping-zh"), status=Status.ARCHIVED
    )
    assert "配送说明" not in _titles("包邮", [help_centre])
    entries_set_status(
        entries=Article.objects.filter(external_id="shipping-zh"), status=Status.PUBLISHED
    )
    assert "配送说明" in _titles("包邮", [help_centre])
    entries_delete(entries=FAQEntry.objects.filter(external_id="faq-refund-zh"))
    assert "退款多久到账？" not in _titles("退款多久到账", [help_centre])


def test_incrementally_updated_index_ranks_like_a_fresh_one(help_centre: Collection) -> None:
    passages_search(query="refund", collections=[help_centre])
    for n in range(40):
        faq_create(
            collection=help_centre,
            question=f"Question {n} about refunds and lamps",
            answer=f"Answer {n}.",
            language="en",
            status=Status.PUBLISHED,
        )
        if n % 3 == 0:
            entries_delete(
                entries=FAQEntry.objects.filter(question=f"Question {n} about refunds and lamps")
            )
    incremental = passages_search(query="refund lamp warranty", collections=[help_centre], limit=10)
    indexes_drop()
    fresh = passages_search(query="refund lamp warranty", collections=[help_centre], limit=10)
    assert [h.passage_id for h in incremental] == [h.passage_id for h in fresh]


def test_kb_version_changes_with_content_and_tuning(
    help_centre: Collection, other_collection: Collection
) -> None:
    before = kb_version(collections=[help_centre])
    other_before = kb_version(collections=[other_collection])
    faq = FAQEntry.objects.get(external_id="faq-warranty")
    faq.answer = "Two years."
    entry_save(entry=faq)
    after_edit = kb_version(collections=[help_centre])
    assert after_edit != before
    assert kb_version(collections=[other_collection]) == other_before
    tuning_save(obj=DictionaryWord(word="极光台灯"))
    assert kb_version(collections=[help_centre]) != after_edit


def test_saving_unchanged_content_keeps_the_version(help_centre: Collection) -> None:
    before = kb_version(collections=[help_centre])
    entry_save(entry=Article.objects.get(external_id="returns-en"))
    assert kb_version(collections=[help_centre]) == before


def test_synonym_added_in_admin_applies_to_the_next_search(help_centre: Collection) -> None:
    assert "退款多久到账？" not in _titles("退钱", [help_centre])
    group = tuning_save(obj=SynonymGroup(terms="退款 = 退钱 = refund"))
    titles = _titles("退钱", [help_centre])
    assert "退款多久到账？" in titles
    assert "Returns and refunds" in titles  # across languages
    tuning_delete(obj=group)
    assert "退款多久到账？" not in _titles("退钱", [help_centre])


def test_a_group_joining_two_others_re_indexes_the_passages_of_both(
    help_centre: Collection,
) -> None:
    tuning_save(obj=SynonymGroup(terms="退款 = 退钱"))
    tuning_save(obj=SynonymGroup(terms="refund = reimbursement"))
    assert "Returns and refunds" not in _titles("退钱", [help_centre])
    # Neither of its terms is in the English article, whose "refunds" is now indexed as 退款.
    bridge = tuning_save(obj=SynonymGroup(terms="退钱 = reimbursement"))
    assert "Returns and refunds" in _titles("refund", [help_centre])
    assert {"Returns and refunds", "退款多久到账？"} <= set(_titles("退钱", [help_centre]))
    tuning_delete(obj=bridge)
    assert "Returns and refunds" in _titles("refund", [help_centre])
    assert "Returns and refunds" not in _titles("退钱", [help_centre])


def test_dictionary_word_makes_a_product_name_match_whole(collection: Collection) -> None:
    for title in ("光环落地灯安装", "光环的含义", "落地灯选购"):
        article_create(
            collection=collection, title=title, body="", language="zh-hans", status=Status.PUBLISHED
        )
    before = passages_search(query="光环落地灯", collections=[collection])
    assert len(before) == 3  # 光环 and 落地灯 match separately
    tuning_save(obj=DictionaryWord(word="光环落地灯"))
    (hit,) = passages_search(query="光环落地灯", collections=[collection])
    assert hit.title == "光环落地灯安装"
    assert hit.matched_terms == ("光环落地灯",)


def _lamps(collection: Collection, codes: tuple[str, ...], body: str) -> None:
    """One article per lamp code, titled "<code> lamp"; ``body`` names the code as {code}."""
    for code in codes:
        article_create(
            collection=collection,
            title=f"{code} lamp",
            body=body.format(code=code),
            language="en",
            status=Status.PUBLISHED,
        )


def test_protected_pattern_matches_a_code_exactly_and_first(collection: Collection) -> None:
    _lamps(collection, ("LM-2041", "LM-2014"), "The {code} desk lamp. Order 2041 ships from LM.")
    tuning_save(obj=ProtectedPattern(name="product code", pattern=r"[A-Z]{2}-\d{4}"))
    for query in ("LM-2041", "lm2041 price", "ＬＭ－２０４１多少钱"):
        best, *others = passages_search(query=query, collections=[collection], limit=2)
        assert best.title == "LM-2041 lamp", query
        assert all(other.confidence < best.confidence for other in others)


def test_a_code_is_found_however_it_is_typed_without_any_pattern(collection: Collection) -> None:
    _lamps(collection, ("LM-2041", "LM-3307"), "The {code} lamp costs ¥299. Returns in 30 days.")
    confidences = set()
    for query in ("LM2041 price", "lm-2041 price", "LM 2041 price", "LM-2041 price"):
        best, *others = passages_search(query=query, collections=[collection], limit=2)
        assert best.title == "LM-2041 lamp", query
        assert all(other.confidence < best.confidence for other in others), query
        confidences.add(round(best.confidence, 6))
    # One code, counted the same way whichever way it was typed.
    assert len(confidences) == 1
    # "in 30" is no code here: the question's 30 still counts.
    (hit, _) = passages_search(query="returns in 30 days", collections=[collection], limit=2)
    assert "30" in hit.matched_terms


def test_a_protected_code_counts_once_against_what_the_question_asks(
    collection: Collection,
) -> None:
    # Whole and parts (lm3307, lm, 3307) used to weigh the code three times over, so any entry
    # naming the product outranked the one about the visitor's problem.
    faq_create(
        collection=collection,
        question="How do I assemble the LM-3307 floor lamp?",
        answer="Screw the three LM-3307 pole sections together.",
        language="en",
        status=Status.PUBLISHED,
    )
    faq_create(
        collection=collection,
        question="My lamp stopped working",
        answer="Lamps have a 2-year warranty: send us a photo of the fault.",
        language="en",
        status=Status.PUBLISHED,
    )
    tuning_save(obj=ProtectedPattern(name="product code", pattern=r"[A-Z]{2}-\d{4}"))
    assert _titles("The LM-3307 stopped working", [collection])[0] == "My lamp stopped working"
    # Typed apart, the parts are all the question has of the code: they still find it.
    assert _titles("LM 3307", [collection]) == ["How do I assemble the LM-3307 floor lamp?"]


def test_chinese_particles_weigh_less_than_what_the_question_is_about(
    collection: Collection,
) -> None:
    # 要 is rarer than 发货 in a help centre, so by idf alone "退钱要多久" outweighed it.
    for question, alternatives, answer in [
        ("退款多久到账？", "退钱要多久？", "收到退货后 3 个工作日内原路退款。"),
        ("多久能收到货？", "什么时候发货？", "当天发货，发货后 1–2 天送达。"),
        ("包邮吗？", "运费多少钱？", "满 99 元包邮。"),
        ("可以取消订单吗？", "怎么取消订单？", "发货前可以取消。"),
        ("怎么开发票？", "能开发票吗？", "在订单页申请电子发票。"),
    ]:
        faq_create(
            collection=collection,
            question=question,
            answer=answer,
            alternatives=alternatives,
            language="zh-hans",
            status=Status.PUBLISHED,
        )
    assert _titles("发货要多久？", [collection])[0] == "多久能收到货？"


def test_new_pattern_reanalyses_existing_passages(collection: Collection) -> None:
    article_create(
        collection=collection,
        title="Order numbers",
        body="Your order LC2406110042 shipped.",
        language="en",
        status=Status.PUBLISHED,
    )
    tuning_save(obj=ProtectedPattern(name="order", pattern=r"LC\d{10}"))
    (hit,) = passages_search(query="where is LC2406110042", collections=[collection])
    assert "LC2406110042".lower() in hit.matched_terms


def test_empty_or_junk_queries_return_nothing(help_centre: Collection) -> None:
    for query in ("", "   ", "？？？", "\x00"):
        assert passages_search(query=query, collections=[help_centre]) == []
    assert passages_search(query="refund", collections=[]) == []
    assert passages_search(query="refund", collections=[help_centre], limit=0) == []


def test_naughty_strings_neither_crash_nor_leak(help_centre: Collection) -> None:
    # The copy vendored for the security suite: present in every clone, so this never skips.
    for text in naughty_strings()[:400]:
        for hit in passages_search(query=text, collections=[help_centre], limit=3):
            assert hit.collection_id == help_centre.pk
