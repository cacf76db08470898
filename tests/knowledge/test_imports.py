"""Importing every format from real files; broken files are rejected and change nothing."""

from __future__ import annotations

import codecs
import json

import pytest
from django.utils import translation

from apps.knowledge.importers import ImportFailed, entries_parse, format_detect
from apps.knowledge.models import Article, Collection, FAQEntry, Passage, Status
from apps.knowledge.selectors import kb_version, passages_search
from apps.knowledge.services.content import article_create
from apps.knowledge.services.imports import collection_import
from tests.knowledge.files import docx_bytes, pdf_bytes, zip_bytes, zip_parts

pytestmark = pytest.mark.django_db

JSONL = "\n".join(
    json.dumps(row, ensure_ascii=False)
    for row in [
        {
            "id": "kb-1",
            "lang": "en",
            "title": "Shipping",
            "body": "# Times\nTwo to four days.\n# Fees\nFree over 99.",
        },
        {"id": "kb-2", "lang": "zh", "title": "退货", "body": "三十天内可以退货。"},
        {"id": "kb-3", "lang": "zh", "title": "怎么开发票", "body": ""},
        {
            "id": "faq-1",
            "kind": "faq",
            "lang": "en",
            "title": "Can I pay with Alipay?",
            "alternatives": ["Do you take Alipay"],
            "body": "Yes, Alipay and WeChat Pay.",
            "url": "https://shop.example.com/pay",
        },
    ]
).encode()


def _import(collection: Collection, data: bytes, name: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return collection_import(
        collection=collection, entries=entries_parse(data, name=name), **kwargs
    )


def _snapshot(collection: Collection) -> tuple:
    return (
        kb_version(collections=[collection]),
        sorted(
            Article.objects.filter(collection=collection).values_list(
                "external_id", "title", "body"
            )
        ),
        sorted(FAQEntry.objects.filter(collection=collection).values_list("external_id", "answer")),
        Passage.objects.filter(collection=collection).count(),
    )


def test_jsonl_imports_articles_and_faqs_searchable_by_external_id(collection: Collection) -> None:
    result = _import(collection, JSONL, "kb.jsonl")
    assert (result.created, result.updated, result.unchanged) == (4, 0, 0)
    shipping = Article.objects.get(external_id="kb-1")
    assert shipping.language == "en"
    assert shipping.status == Status.PUBLISHED
    assert list(shipping.passages.order_by("position").values_list("heading_path", flat=True)) == [
        ["Times"],
        ["Fees"],
    ]
    assert Article.objects.get(external_id="kb-2").language == "zh-hans"
    (hit,) = passages_search(query="do you take alipay", collections=[collection], limit=1)
    assert hit.kind == "faq"
    assert hit.external_id == "faq-1"
    (title_only, *_) = passages_search(query="开发票", collections=[collection])
    assert title_only.external_id == "kb-3"


def test_reimporting_the_same_file_changes_nothing(collection: Collection) -> None:
    _import(collection, JSONL, "kb.jsonl")
    before = _snapshot(collection)
    passage_ids = set(Passage.objects.values_list("pk", flat=True))
    result = _import(collection, JSONL, "kb.jsonl")
    assert (result.created, result.updated, result.unchanged, result.passages) == (0, 0, 4, 0)
    assert set(Passage.objects.values_list("pk", flat=True)) == passage_ids
    assert _snapshot(collection)[1:] == before[1:]


def test_reimport_updates_changed_entries_in_place(collection: Collection) -> None:
    _import(collection, JSONL, "kb.jsonl")
    article_pk = Article.objects.get(external_id="kb-2").pk
    changed = JSONL.replace("三十天内可以退货。".encode(), "七天内可以退货。".encode())
    result = _import(collection, changed, "kb.jsonl")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 3)
    assert Article.objects.get(external_id="kb-2").pk == article_pk
    (hit, *_) = passages_search(query="七天退货", collections=[collection])
    assert hit.text == "七天内可以退货。"


def test_replace_deletes_what_the_file_no_longer_has(collection: Collection) -> None:
    _import(collection, JSONL, "kb.jsonl")
    article_create(collection=collection, title="Hand-written", body="x", language="en")
    only_first = JSONL.split(b"\n")[0]
    result = _import(collection, only_first, "kb.jsonl", replace=True)
    assert result.removed == 4
    assert list(
        Article.objects.filter(collection=collection).values_list("external_id", flat=True)
    ) == ["kb-1"]
    assert not FAQEntry.objects.filter(collection=collection).exists()
    assert passages_search(query="alipay", collections=[collection]) == []


def test_a_replace_removes_only_confirmed_entries_else_writes_nothing_and_says_what(
    collection: Collection, admin_user: object
) -> None:
    from django.contrib.admin.models import DELETION, LogEntry

    from apps.knowledge.services.imports import RemovalsUnconfirmed

    _import(collection, JSONL, "kb.jsonl")
    before = _snapshot(collection)
    only_first = JSONL.split(b"\n")[0]
    with pytest.raises(RemovalsUnconfirmed) as unconfirmed:
        _import(collection, only_first, "kb.jsonl", replace=True, removals_confirmed=set())
    plan = unconfirmed.value.plan
    assert (plan["created"], plan["updated"], plan["unchanged"], plan["removed"]) == (0, 0, 1, 3)
    assert sorted((r["id"], r["title"]) for r in plan["removals"]) == [
        ("faq-1", "Can I pay with Alipay?"),
        ("kb-2", "退货"),
        ("kb-3", "怎么开发票"),
    ]
    assert _snapshot(collection) == before
    result = _import(
        collection,
        only_first,
        "kb.jsonl",
        replace=True,
        removals_confirmed={r["key"] for r in plan["removals"]},
        removed_by=admin_user.pk,  # type: ignore[attr-defined]
    )
    assert result.removed == 3
    assert sorted(r["id"] for r in result.removals) == ["faq-1", "kb-2", "kb-3"]
    logged = LogEntry.objects.filter(action_flag=DELETION, user=admin_user)
    assert sorted(logged.values_list("object_repr", flat=True)) == sorted(
        ["退货", "怎么开发票", "Can I pay with Alipay?"]
    )


def test_import_leaves_other_collections_alone(
    collection: Collection, other_collection: Collection
) -> None:
    _import(other_collection, JSONL, "kb.jsonl")
    before = _snapshot(other_collection)
    _import(collection, JSONL.split(b"\n")[0], "kb.jsonl", replace=True)
    assert _snapshot(other_collection) == before


@pytest.mark.parametrize(
    ("data", "location", "message"),
    [
        (b'{"id": "a", "title": "ok"}\n{"id": "b", "title": \n', "kb.jsonl line 2", "invalid JSON"),
        (
            b'{"id": "a", "title": "ok"}\n["not", "an", "object"]\n',
            "kb.jsonl line 2",
            "JSON object",
        ),
        (b'{"id": "a", "title": "ok"}\n{"title": "no id"}\n', "kb.jsonl line 2", "missing 'id'"),
        (b'{"id": "a", "title": "ok", "lang": "fr"}\n', "kb.jsonl line 1", "unknown language"),
        (b'{"id": "a", "title": "q", "kind": "faq"}\n', "kb.jsonl line 1", "needs an answer"),
        (
            b'{"id": "a", "title": "ok"}\n{"id": "a", "title": "again"}\n',
            "kb.jsonl line 2",
            "used twice",
        ),
        (b'{"id": "a", "title": "ok"}\n\xff\xfe\n', "kb.jsonl line 2", "save the file as UTF-8"),
        (b'{"id": "a", "title": "\\ud800"}\n', "kb.jsonl line 1", "lone surrogate"),
        (b'{"id": true, "title": "ok"}\n', "kb.jsonl line 1", "missing 'id'"),
        (b'{"id": "a", "title": "ok", "url": ["x"]}\n', "kb.jsonl line 1", "url must be"),
        (b'{"id": "a", "title": "ok", "url": "javascript:alert(1)"}\n', "kb.jsonl line 1", "url"),
        (b'{"id": "a", "title": "ok", "url": "https://a b"}\n', "kb.jsonl line 1", "url must be"),
        (b'{"id": "a", "title": "ok", "url": "https://[oops/"}\n', "kb.jsonl line 1", "url must"),
        (b'{"id": "a", "title": "ok", "tags": {"a": 1}}\n', "kb.jsonl line 1", "tags must be"),
        (b"[" * 3000 + b"]" * 3000 + b"\n", "kb.jsonl line 1", "nested too deeply"),
        (b'{"id": ' + b"9" * 5000 + b', "title": "ok"}\n', "kb.jsonl line 1", "invalid JSON"),
    ],
)
def test_broken_jsonl_is_rejected_with_its_line_and_changes_nothing(
    help_centre: Collection, data: bytes, location: str, message: str
) -> None:
    before = _snapshot(help_centre)
    with pytest.raises(ImportFailed) as failure:
        _import(help_centre, data, "kb.jsonl", replace=True)
    assert failure.value.location == location
    assert message in failure.value.message
    assert _snapshot(help_centre) == before


def test_csv_rows_become_faq_entries_and_reimport_is_idempotent(collection: Collection) -> None:
    data = (
        "question,answer,lang\n怎么退货？,在我的订单里申请。,zh\n"
        'How do I return?,"Open My orders, then Return.",en\n'
    )
    result = _import(collection, data.encode(), "faq.csv")
    assert result.created == 2
    faq = FAQEntry.objects.get(question="怎么退货？")
    assert (faq.language, faq.answer, faq.status) == (
        "zh-hans",
        "在我的订单里申请。",
        Status.PUBLISHED,
    )
    assert (
        FAQEntry.objects.get(question="How do I return?").answer == "Open My orders, then Return."
    )
    assert _import(collection, data.encode(), "faq.csv").unchanged == 2
    (hit, *_) = passages_search(query="怎么退货", collections=[collection])
    assert hit.answer == "在我的订单里申请。"


def test_csv_without_language_column_detects_it(collection: Collection) -> None:
    _import(
        collection,
        "退款多久到账？,三天内。\nWhen is my refund?,Within three days.\n".encode(),
        "faq.csv",
    )
    assert dict(FAQEntry.objects.values_list("answer", "language")) == {
        "三天内。": "zh-hans",
        "Within three days.": "en",
    }


CHINESE_CSV = "问题,答案\n怎么退货？,收到商品后三十天内可以退货。\n运费多少？,满99元包邮。\n"
TRADITIONAL_CSV = "问题,答案\n怎麼退貨？,三十天內可退。\n"
EMOJI_CSV = CHINESE_CSV + "好评？,谢谢😀\n"
EURO_CSV = "问题,答案\n欧洲运费多少？,5€，满99€包邮。\n"
KOREAN_CSV = "질문,답변\n반품은 어떻게 하나요?,상품을 받은 후 30일 이내에 반품할 수 있습니다.\n"
# 똠 is in Windows' CP949, not in EUC-KR.
KOREAN_WINDOWS_CSV = KOREAN_CSV + "똠양꿍 소스도 있나요?,네, 매주 팝니다.\n"


def _windows_gbk(text: str) -> bytes:
    """Code page 936, what Excel on Chinese Windows saves: € is the byte 0x80 (no Python codec)."""
    return b"".join(b"\x80" if char == "€" else char.encode("gbk") for char in text)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (CHINESE_CSV.encode(), CHINESE_CSV),
        (CHINESE_CSV.encode("utf-8-sig"), CHINESE_CSV),
        (CHINESE_CSV.encode("utf-16"), CHINESE_CSV),  # Excel's "Unicode Text": BOM, then LE
        (codecs.BOM_UTF16_BE + CHINESE_CSV.encode("utf-16-be"), CHINESE_CSV),
        (CHINESE_CSV.encode("gbk"), CHINESE_CSV),  # Excel's "CSV" on Chinese Windows
        (EMOJI_CSV.encode("gb18030"), EMOJI_CSV),
        (TRADITIONAL_CSV.encode("gbk"), TRADITIONAL_CSV),
        (_windows_gbk(EURO_CSV), EURO_CSV),
        (EURO_CSV.encode("gb18030"), EURO_CSV),  # GB18030's own € is A2 E3
    ],
    ids=[
        "utf-8",
        "utf-8-bom",
        "utf-16le-bom",
        "utf-16be-bom",
        "gbk",
        "gb18030",
        "gbk-trad",
        "gbk-euro",
        "gb18030-euro",
    ],
)
def test_csv_in_the_encodings_spreadsheets_save_is_read(data: bytes, text: str) -> None:
    # The text back exactly: no byte-order mark in the first question, no mojibake.
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert [[e.title, e.body] for e in entries_parse(data, name="faq.csv")] == rows


@pytest.mark.parametrize(
    ("data", "location"),
    [
        # Decodes as GB18030, into nonsense: other legacy encodings are refused, not misread.
        ("Frage,Antwort\nVersand?,Zwei Tage für Österreich.\n".encode("cp1252"), "faq.csv line 2"),
        (
            "質問,回答\n返品できますか？,はい、三十日以内です。\n".encode("shift_jis"),
            "faq.csv line 1",
        ),
        ("問題,答案\n怎麼退貨？,收到商品後三十天內可以退貨。\n".encode("big5"), "faq.csv line 1"),
        # Korean decodes as GB18030 into common Chinese characters (반품 → 馆前).
        (KOREAN_CSV.encode("euc_kr"), "faq.csv line 1"),
        (KOREAN_WINDOWS_CSV.encode("cp949"), "faq.csv line 1"),
        # Reads as Chinese in GBK and as Korean in EUC-KR (팁캥좋똑꼇콘...): refused, not guessed.
        ("屏幕亮度不能调节,重启电脑\n".encode("gbk"), "faq.csv line 1"),
        (b"q,a\nCaf\xe9,Oui\n", "faq.csv line 2"),  # Latin-1, not even GB18030
    ],
    ids=[
        "cp1252",
        "shift-jis",
        "big5",
        "euc-kr",
        "cp949",
        "gbk-or-euc-kr",
        "latin-1",
    ],
)
def test_text_in_no_accepted_encoding_is_refused_saying_what_is_accepted(
    data: bytes, location: str
) -> None:
    with pytest.raises(ImportFailed) as failure:
        entries_parse(data, name="faq.csv")
    assert failure.value.location == location
    assert "UTF-8 with or without BOM, UTF-16 with BOM, or GB18030/GBK" in failure.value.message
    assert "CSV UTF-8 (Comma delimited)" in failure.value.message


def test_a_document_in_no_accepted_encoding_is_told_how_an_editor_saves_it() -> None:
    with pytest.raises(ImportFailed) as failure:
        entries_parse("# Rückgabe\n\nGrößen und Maße".encode("cp1252"), name="returns.md")
    assert "save the file as UTF-8: in your text editor" in failure.value.message
    assert "Excel" not in failure.value.message


# Random bytes behind a UTF-16 byte-order mark decode, when they do, as rare characters: some
# private-use (鰺\ue207\uf051꣄…), or none but few common Chinese ones (쬟焙䐗횔㱉岝怴ㆾḠ﹩).
RANDOM_BYTES = bytes.fromhex("3a9c07e251f0c4a89e3d7b16e25f0a93d47c6e21f8b52c0d914eb3a7")
RANDOM_PRINTABLE = bytes.fromhex("1fcb 1971 1744 94d6 493c 9d5c 3460 be31 201e 69fe")


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + "q,a\n".encode("utf-16-le")[:-1],  # cut short
        codecs.BOM_UTF16_LE + RANDOM_BYTES,
        codecs.BOM_UTF16_BE + RANDOM_BYTES,
        codecs.BOM_UTF16_LE + RANDOM_PRINTABLE,
    ],
    ids=["cut-short", "random-le", "random-be", "random-printable"],
)
def test_a_file_marked_utf16_that_is_not_utf16_text_is_refused(data: bytes) -> None:
    with pytest.raises(ImportFailed) as failure:
        entries_parse(data, name="notes.txt")
    assert failure.value.location == "notes.txt"
    assert "byte-order mark of UTF-16" in failure.value.message
    assert "probably not a text file" in failure.value.message
    with translation.override("zh-hans"), pytest.raises(ImportFailed) as failure:
        entries_parse(data, name="notes.txt")
    assert failure.value.message.startswith("文件以 UTF-16 的字节顺序标记开头")


@pytest.mark.parametrize(
    "text",
    [
        "Shipping is free over ¥99 – 2–3 days; café crème €5 ✓\n",
        "满99元包邮 😀\n",
        "問題,答案\n怎麼退貨？,收到商品後三十天內可以退貨。\n",
    ],
    ids=["english-symbols", "chinese-emoji", "traditional"],
)
def test_english_and_chinese_text_in_utf16_is_read_whatever_its_symbols(text: str) -> None:
    [entry] = entries_parse(text.encode("utf-16"), name="notes.txt")
    assert entry.body == text.strip()


def test_jsonl_and_markdown_in_gbk_are_read_too() -> None:
    jsonl = '{"id": "a", "title": "退货", "body": "三十天内可以退货。"}\n'.encode("gbk")
    assert entries_parse(jsonl, name="kb.jsonl")[0].body == "三十天内可以退货。"
    markdown = "# 退货政策\n\n三十天内可以退货。\n".encode("utf-16")
    assert entries_parse(markdown, name="returns.md")[0].title == "退货政策"


@pytest.mark.parametrize(
    ("data", "location"),
    [
        (b"question,answer\nonly one column\n", "faq.csv line 2"),
        (b"q,a\nq2,a2,en,extra\n", "faq.csv line 2"),
        (b"q,a\n,empty question\n", "faq.csv line 2"),
        (b'q,a\n"unterminated,quote\n', "faq.csv line 2"),
    ],
)
def test_broken_csv_is_rejected_with_its_line(
    help_centre: Collection, data: bytes, location: str
) -> None:
    before = _snapshot(help_centre)
    with pytest.raises(ImportFailed) as failure:
        _import(help_centre, data, "faq.csv")
    assert failure.value.location == location
    assert _snapshot(help_centre) == before


def test_markdown_file_becomes_an_article_split_by_headings(collection: Collection) -> None:
    data = (
        "# Smart bulb setup\n\nIntro.\n\n## Pairing\nHold the button.\n\n"
        "## Reset\nSwitch five times.\n"
    )
    _import(collection, data.encode(), "bulbs.md")
    article = Article.objects.get()
    assert (article.title, article.external_id, article.language) == (
        "Smart bulb setup",
        "bulbs.md",
        "en",
    )
    assert list(article.passages.order_by("position").values_list("heading_path", "text")) == [
        ([], "Intro."),
        (["Pairing"], "Hold the button."),
        (["Reset"], "Switch five times."),
    ]


def test_markdown_front_matter_gives_title_and_language_and_is_not_text(
    collection: Collection,
) -> None:
    data = (
        '---\ntitle: "Gift cards"\nlang: zh-CN\ndate: 2026-11-02\n---\nGift cards never expire.\n'
    )
    _import(collection, data.encode(), "giftcards.md")
    stored = Article.objects.values_list("title", "language", "body").get()
    assert stored == ("Gift cards", "zh-hans", "Gift cards never expire.")


@pytest.mark.parametrize(
    "header", ["question,answer", "问题,答案", "问题,回答", "Question,Answer,lang"]
)
def test_a_csv_header_row_in_either_language_is_not_an_entry(
    collection: Collection, header: str
) -> None:
    rows = f"{header}\n怎么退货？,三十天内可退。\n".encode()
    _import(collection, rows, "faq.csv")
    assert list(FAQEntry.objects.values_list("question", flat=True)) == ["怎么退货？"]


def test_a_question_twice_in_a_csv_is_named_not_its_id(collection: Collection) -> None:
    with pytest.raises(ImportFailed) as failure:
        _import(collection, "怎么退货？,a\n怎么退货？,b\n".encode(), "dup.csv")
    assert str(failure.value).startswith("dup.csv line 2: the question '怎么退货？' is used twice")


def test_html_keeps_structure_and_drops_scripts_and_navigation(collection: Collection) -> None:
    html = """<!doctype html><html><head><title>退货政策</title>
    <link rel="canonical" href="https://shop.example.com/help/returns"></head>
    <body><nav>首页 | 帮助</nav><h1>退货政策</h1><p>三十天内<b>无理由</b>退货。</p>
    <h2>退款时间</h2><ul><li>支付宝：1–3 天</li><li>银行卡：3–7 天</li></ul>
    <script>alert("x")</script><table><tr><th>型号</th><th>价格</th></tr><tr><td>LM-2041</td><td>¥299</td></tr></table>
    </body></html>"""
    _import(collection, html.encode(), "returns.html")
    article = Article.objects.get()
    assert article.title == "退货政策"
    assert article.language == "zh-hans"
    assert article.source_url == "https://shop.example.com/help/returns"
    assert "alert" not in article.body
    assert "首页" not in article.body
    assert article.body == (
        "三十天内无理由退货。\n\n## 退款时间\n\n- 支付宝：1–3 天\n\n- 银行卡：3–7 天\n\n"
        "型号 | 价格\n\nLM-2041 | ¥299"
    )
    (hit, *_) = passages_search(query="银行卡退款", collections=[collection])
    assert hit.heading_path == ("退款时间",)
    assert hit.url == "https://shop.example.com/help/returns"


def test_pdf_text_of_every_page_is_imported(collection: Collection) -> None:
    data = pdf_bytes(
        [["Warranty terms", "Lamps: two years."], ["Smart bulbs: one year."]], title="Warranty"
    )
    _import(collection, data, "warranty.pdf")
    article = Article.objects.get()
    assert article.title == "Warranty"
    assert "Lamps: two years." in article.body
    assert "Smart bulbs: one year." in article.body
    (hit, *_) = passages_search(query="bulbs warranty year", collections=[collection])
    assert hit.external_id == "warranty.pdf"


def test_docx_headings_lists_and_tables_are_kept(collection: Collection) -> None:
    data = docx_bytes(
        title="Setup guide",
        sections=[("Pairing", ["Hold the button for five seconds."]), ("Prices", ["Our lamps:"])],
        table=[["Code", "Price"], ["LM-2041", "¥299"]],
    )
    _import(collection, data, "guide.docx")
    article = Article.objects.get()
    assert article.title == "Setup guide"
    assert article.body == (
        "# Pairing\n\nHold the button for five seconds.\n\n# Prices\n\nOur lamps:\n\n"
        "Code | Price\n\nLM-2041 | ¥299"
    )
    (hit, *_) = passages_search(query="LM-2041 price", collections=[collection])
    assert hit.heading_path == ("Prices",)


WORD = docx_bytes(title="Returns", sections=[("Refunds", ["Three days."])])


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "PDF"),
        ("scan.pdf", pdf_bytes([[]]), "no extractable text"),
        ("broken.docx", b"PK\x03\x04 not a zip", "DOCX"),
        ("no-document.docx", zip_bytes({"[Content_Types].xml": "<Types/>"}), "DOCX"),
        (
            "bad-xml.docx",
            zip_bytes({**zip_parts(WORD), "word/document.xml": "<w:document"}),
            "DOCX",
        ),
        ("empty.html", b"<html><body><script>x()</script></body></html>", "no text"),
        ("binary.md", b"# Title\nok\n\x00\x01", "binary"),
        ("empty.md", b" \n\t\n", "empty"),
        # A title alone would be cited as the answer to any question on its topic.
        ("title-only.md", b"# Store opening hours\n", "a title but no text"),
        ("title-only.html", b"<title>Hours</title><h1>Hours</h1>", "a title but no text"),
        ("empty.jsonl", b"", "empty"),
        ("blank.csv", b"\n\n", "empty"),
        # With "replace", each of these emptied the collection.
        ("header-only.csv", b"question,answer\n", "no entries"),
        ("blank-rows.csv", b",\n , \n", "no entries"),
    ],
)
def test_broken_documents_are_rejected_cleanly(
    help_centre: Collection, name: str, data: bytes, message: str
) -> None:
    before = _snapshot(help_centre)
    with pytest.raises(ImportFailed) as failure:
        _import(help_centre, data, name, replace=True)
    assert message in str(failure.value)
    assert name in failure.value.location
    assert _snapshot(help_centre) == before


def test_format_is_detected_from_the_name_then_the_content() -> None:
    assert format_detect("FAQ.CSV", b"") == "csv"
    assert format_detect("export", b"%PDF-1.7") == "pdf"
    assert format_detect("export", b'{"id": 1}') == "jsonl"
    with pytest.raises(ImportFailed):
        format_detect("mystery.bin", b"\x00\x01")


def test_progress_is_reported_up_to_the_total(collection: Collection) -> None:
    rows = "\n".join(f"Question {n}?,Answer {n}." for n in range(450)).encode()
    seen: list[tuple[int, int]] = []
    collection_import(
        collection=collection,
        entries=entries_parse(rows, name="many.csv"),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (450, 450)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len(seen) >= 3
