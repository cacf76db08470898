"""Public pages for cited articles and FAQ entries that have no page of their own."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.knowledge.rendering import markdown_render
from apps.knowledge.selectors import article_get_published, faq_get_published


def article_page(request: HttpRequest, collection: str, article_id: int) -> HttpResponse:
    article = article_get_published(collection_slug=collection, article_id=article_id)
    if article is None:
        raise Http404("No such published article.")
    return render(
        request,
        "knowledge/article.html",
        {
            "title": article.title,
            "language": article.language,
            "html": markdown_render(article.body),
            "updated_at": article.updated_at,
            "collection": article.collection,
        },
    )


def faq_page(request: HttpRequest, collection: str, faq_id: int) -> HttpResponse:
    faq = faq_get_published(collection_slug=collection, faq_id=faq_id)
    if faq is None:
        raise Http404("No such published FAQ entry.")
    return render(
        request,
        "knowledge/article.html",
        {
            "title": faq.question,
            "language": faq.language,
            "html": markdown_render(faq.answer),
            "updated_at": faq.updated_at,
            "collection": faq.collection,
        },
    )
