"""Public pages for cited articles and FAQ entries that have no page of their own."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.knowledge.models import Article, FAQEntry
from apps.knowledge.rendering import markdown_render
from apps.knowledge.selectors import article_get_published, faq_get_published


def article_page(request: HttpRequest, collection: str, article_id: int) -> HttpResponse:
    article = article_get_published(collection_slug=collection, article_id=article_id)
    if article is None:
        raise Http404("No such published article.")
    return _entry_page(request, article, title=article.title, markdown=article.body)


def faq_page(request: HttpRequest, collection: str, faq_id: int) -> HttpResponse:
    faq = faq_get_published(collection_slug=collection, faq_id=faq_id)
    if faq is None:
        raise Http404("No such published FAQ entry.")
    return _entry_page(request, faq, title=faq.question, markdown=faq.answer)


def _entry_page(
    request: HttpRequest, entry: Article | FAQEntry, *, title: str, markdown: str
) -> HttpResponse:
    context = {
        "title": title,
        "language": entry.language,
        "html": markdown_render(markdown),
        "updated_at": entry.updated_at,
        "collection": entry.collection,
    }
    return render(request, "knowledge/article.html", context)
