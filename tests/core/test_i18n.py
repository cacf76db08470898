"""Simplified Chinese: pages follow the browser, cookie and set_language; the catalog is whole."""

from __future__ import annotations

import ast
import gettext
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from apps.sites.models import Site

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
HAN = re.compile(r"[\u4e00-\u9fff]")
# gettext("…") and pgettext("context", "…") calls in the console's script, as (context, msgid).
CONSOLE_GETTEXT = re.compile(r'(?:p?gettext)\((?:"([^"]*)", )?"((?:[^"\\]|\\.)*)"\)')


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    line: int = 0
    catalog: str = ""


# Server-rendered strings, and the console's scripts (served by the JavaScript catalog view).
CATALOGS = ("django", "djangojs")


def po_entries(catalog: str) -> list[Entry]:
    """Parse a .po file: enough of the format for what makemessages writes, header left out."""
    entries: list[Entry] = []
    current: Entry | None = None
    target = ""
    lines = (MESSAGES / f"{catalog}.po").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if line.startswith("#~"):
            continue  # obsolete: no longer in the source
        if not line.strip():
            if current is not None:
                entries.append(current)
            current = None
            continue
        current = current or Entry(line=number, catalog=catalog)
        if line.startswith("#,"):
            current.flags += [flag.strip() for flag in line[2:].split(",")]
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            text = ast.literal_eval(line)
            if target == "msgstr":
                current.msgstr[-1] += text
            else:
                setattr(current, target, getattr(current, target) + text)
        else:
            keyword, _, quoted = line.partition(" ")
            target = "msgstr" if keyword.startswith("msgstr") else keyword
            if target == "msgstr":
                current.msgstr.append(ast.literal_eval(quoted))
            else:
                setattr(current, target, ast.literal_eval(quoted))
    return [entry for entry in entries if entry.msgid]


def described(entries: list[Entry]) -> str:
    return "\n".join(f"  {entry.catalog}.po:{entry.line}: {entry.msgid!r}" for entry in entries)


@pytest.fixture
def chinese_client(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


@pytest.mark.django_db
def test_demo_shop_is_in_chinese_for_a_browser_that_prefers_it(client: Client) -> None:
    page = client.get("/", headers={"accept-language": "zh-Hans,zh;q=0.9,en;q=0.5"})

    html = page.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "<h1>点亮每一个房间</h1>" in html
    assert "坐席工作台" in html
    assert "Light for every room" not in html


@pytest.mark.django_db
def test_demo_shop_is_in_english_for_an_english_browser(client: Client) -> None:
    page = client.get("/", headers={"accept-language": "en-US,en;q=0.9"})

    html = page.content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Light for every room</h1>" in html
    assert not HAN.search(html)


def test_agent_console_follows_the_language_cookie(chinese_client: Client, agent: object) -> None:
    chinese_client.force_login(agent)

    html = chinese_client.get("/console/").content.decode()

    assert "<title>坐席工作台 · csbot</title>" in html
    assert "领取" in html
    assert "交还机器人" in html
    assert "Hand back to bot" not in html


def test_set_language_switches_the_console_and_back(client: Client, agent: object) -> None:
    client.force_login(agent)

    switched = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/console/"})
    chinese = client.get(switched.headers["Location"]).content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    english = client.get("/console/").content.decode()

    assert switched.status_code == 302
    assert "转接工单" in chinese
    assert "Transfer ticket" in english
    assert "转接工单" not in english


def test_admin_shows_csbot_apps_and_help_in_chinese(
    chinese_client: Client, django_user_model: type, site: Site
) -> None:
    # No password: hashing one would only slow the test down.
    chinese_client.force_login(django_user_model.objects.create_superuser("root", None, None))

    index = chinese_client.get("/admin/").content.decode()
    form = chinese_client.get(f"/admin/sites/site/{site.pk}/change/").content.decode()

    assert "知识库" in index
    assert "转人工" in index
    assert "允许的来源" in form
    assert "填入 script 标签的 data-site 属性" in form


@pytest.mark.parametrize("catalog", CATALOGS)
def test_every_message_has_a_chinese_translation(catalog: str) -> None:
    untranslated = [e for e in po_entries(catalog) if not e.msgstr or not all(e.msgstr)]
    fuzzy = [e for e in po_entries(catalog) if "fuzzy" in e.flags]

    assert not untranslated, (
        "Untranslated strings in locale/zh_Hans (run makemessages, translate, compilemessages):\n"
        + described(untranslated)
    )
    assert not fuzzy, "Fuzzy translations are not used at run time; check them:\n" + described(
        fuzzy
    )


@pytest.mark.parametrize("catalog", CATALOGS)
def test_no_message_id_holds_an_escape_the_source_decodes(catalog: str) -> None:
    # xgettext copies "\\u201c" from Python source as six characters, so the msgid never equals
    # the decoded string Django looks up and the translation is silently never used.
    escaped = [entry for entry in po_entries(catalog) if "\\u" in entry.msgid]

    assert not escaped, "Write the character itself in the source, not a \\u escape:\n" + (
        described(escaped)
    )


@pytest.mark.parametrize("catalog", CATALOGS)
def test_translations_keep_every_placeholder(catalog: str) -> None:
    broken = [
        entry
        for entry in po_entries(catalog)
        for msgstr in entry.msgstr
        if sorted(set(PLACEHOLDER.findall(msgstr)))
        != sorted(set(PLACEHOLDER.findall(entry.msgid + (entry.msgid_plural or ""))))
    ]

    assert not broken, "Translations that lose or add a placeholder:\n" + described(broken)


@pytest.mark.parametrize("catalog", CATALOGS)
def test_compiled_catalog_matches_the_po_file(catalog: str) -> None:
    with (MESSAGES / f"{catalog}.mo").open("rb") as compiled:
        compiled_catalog = gettext.GNUTranslations(compiled)

    stale = []
    for entry in po_entries(catalog):
        if entry.msgctxt is not None:
            found = compiled_catalog.pgettext(entry.msgctxt, entry.msgid)
        elif entry.msgid_plural is not None:
            found = compiled_catalog.ngettext(entry.msgid, entry.msgid_plural, 1)
        else:
            found = compiled_catalog.gettext(entry.msgid)
        if found != entry.msgstr[0]:
            stale.append(entry)

    assert not stale, (
        f"{catalog}.mo is older than {catalog}.po; run compilemessages:\n" + described(stale)
    )


def test_every_console_script_string_is_in_the_catalog() -> None:
    script = (ROOT / "static" / "console" / "console.js").read_text(encoding="utf-8")
    in_script = set(CONSOLE_GETTEXT.findall(script))
    in_catalog = {(e.msgctxt or "", e.msgid) for e in po_entries("djangojs")}

    missing = in_script - in_catalog
    assert in_script, "console.js no longer calls gettext(): the pattern below is out of date"
    assert not missing, (
        "console.js strings missing from djangojs.po (run makemessages -d djangojs):\n"
        + "\n".join(f"  {context!r} {msgid!r}" for context, msgid in sorted(missing))
    )


def test_console_script_catalog_follows_the_language_cookie(chinese_client: Client) -> None:
    # The view writes the catalog as JSON: a translated pair appears as json.dumps writes it.
    placeholder = json.dumps(
        {"Reply to the visitor — type / for canned replies": "回复访客——输入 / 使用快捷回复"}
    )[1:-1]

    chinese = chinese_client.get("/jsi18n/").content.decode()
    english = Client().get("/jsi18n/", headers={"accept-language": "en"}).content.decode()

    assert placeholder in chinese
    assert "Reply to the visitor" not in english
