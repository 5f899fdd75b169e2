"""Accessibility (RGAA 4.1) and HTML quality of every page, as every kind of person sees it.

A realistic data set is built once through the operations (dossiers in every state, with funding
lines, pieces, de minimis aid, opinions, messages and internal notes, a committee meeting with
decided and pending agenda items, a past meeting). Then every GET route of ``app.url_map`` that
returns HTML is requested with real ids and references as each kind of person (anonymous,
applicant, agent, committee secretary, consulted partner agent, admin), and the main forms are
posted with wrong data to get their 422 page.

Every HTML page is parsed with lxml and checked: status, ``lang="fr"``, one ``<h1>``, heading
levels, ``<title>``, skip link and landmarks, labels of fields, ids, ARIA references, in-page links,
tables, images, names of links and buttons, no inline script or style, badges with words,
autocomplete of personal fields, required-field markers that say what they mean. A failure names
the page (person, URL, status) and the element (tag, attributes, line).

The crawl runs once per session and is cached; each endpoint is one test, so that a known problem
in a template owned elsewhere can be marked ``xfail(strict=True)`` on its own page.

Where Chromium is installed, the same pages are also laid out 360 pixels wide (one headless run for
all of them, each in an iframe, stylesheet inlined, every <details> open): nothing may be wider than
the screen except tables inside their scrolling region (``.table-wrap``).
"""
import io
import json
import os
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path

import lxml.html
import pytest
from flask import g

from atelier.auth.operations import password_reset_token
from atelier.auth.registration import request_registration
from atelier.cases import documents
from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.inbox.queries import SECTIONS
from atelier.webhooks.delivery import deliver_due
from atelier.webhooks.operations import create_webhook
from conftest import login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

PERSONS = ("anonymous", "applicant", "agent", "secretary", "partner", "admin")

# Every GET route, as the crawler treats it. A new route makes test_every_get_route_is_crawled fail
# until it is listed here (and, if it takes an argument, until the crawler knows how to fill it).
HTML_ENDPOINTS = (
    "main.home", "main.accessibility",
    "auth.login", "auth.register", "auth.account", "api_tokens.new_token",
    "auth.change_password_page", "auth.forgot_password", "auth.reset_password_page", "auth.sessions_page",
    "auth.confirm_registration_page",
    "schemes.catalogue", "schemes.show_scheme", "schemes.eligibility",
    "companies.my_companies", "companies.new_company", "companies.show_company", "companies.edit_company",
    "cases.my_cases", "cases.new_case", "cases.show_case", "cases.edit_case", "cases.confirm_withdraw",
    "inbox.inbox", "dashboards.agency_dashboard_page", "search.search",
    "committees.meetings", "committees.show_meeting", "committees.new_meeting",
    "admin.dashboard", "admin.agencies", "admin.new_agency", "admin.edit_agency", "admin.users",
    "admin.new_user", "admin.committees", "admin.new_committee", "admin.schemes", "admin.new_scheme",
    "admin.edit_scheme", "admin.cases",
    "webhooks.webhooks", "webhooks.new_webhook", "webhooks.deliveries",
    "questionnaires.case_answers", "questionnaires.managed_schemes", "questionnaires.edit_questionnaire",
    "questionnaires.preview",
    "plans.edit_plan", "plans.edit_report",
)
NOT_HTML_ENDPOINTS = ("static", "cases.download_document", "notifications.download_attachment",
                      "committees.agenda_workbook",
                      "inbox.export_lines", "inbox.export_opendata")

# Query strings that make a different page (or list) of the same route.
QUERY_VARIANTS = {
    "inbox.inbox": [{"section": key} for key in SECTIONS],
    "search.search": [{}, {"q": "machine"}, {"q": "introuvable"}, {"state": "in_review"}],
    "schemes.catalogue": [{}, {"agency": "region"}, {"instrument": "grant"}],
    "admin.cases": [{}, {"state": "in_review"}],
    "admin.users": [{}, {"role": "agent"}],
    "webhooks.deliveries": [{}, {"statut": "failed"}],
    "committees.new_meeting": [{}, {"comite": "{committee_id}"}],
}

# Pages known to fail (strict xfail, with the reason): the test turns red once they are fixed.
KNOWN_PROBLEMS: dict[str, str] = {}  # endpoint → why its pages are known to fail (strict xfail)


# =========================================================================== the checker

def _text(element) -> str:
    """The text a screen reader would read in ``element``: aria-hidden parts left out, alt of images."""
    if not isinstance(element.tag, str) or element.get("aria-hidden") == "true":
        return ""
    parts = [element.get("alt", "")] if element.tag == "img" else []
    parts.append(element.text or "")
    for child in element:
        parts.append(_text(child))
        parts.append(child.tail or "")
    return " ".join(" ".join(parts).split())


def describe(element) -> str:
    """``<tag id=… name=… class=…>`` at line N « text », to find the element in the page source."""
    attributes = []
    for key in ("id", "name", "type", "class", "href", "for", "role"):
        value = element.get(key)
        if value is not None:
            attributes.append(f'{key}="{value[:50]}"')
    text = " ".join(element.text_content().split())[:60]
    return (f"<{element.tag}{' ' if attributes else ''}{' '.join(attributes)}> line {element.sourceline}"
            + (f" « {text} »" if text else ""))


def _classes(element) -> set[str]:
    return set((element.get("class") or "").split())


def _ancestors(element):
    parent = element.getparent()
    while parent is not None:
        yield parent
        parent = parent.getparent()


LABELABLE = ("input", "select", "textarea")
NOT_LABELLED_INPUTS = ("hidden", "submit", "button", "reset", "image")
ID_REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls", "aria-errormessage", "headers")
SECTIONING = ("article", "aside", "main", "nav", "section")


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
OPTIONAL_END = {"li", "dt", "dd", "p", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot",
                "colgroup", "caption", "html", "head", "body"}
CLOSES_P = {"address", "article", "aside", "blockquote", "details", "div", "dl", "fieldset", "figcaption",
            "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "main",
            "menu", "nav", "ol", "p", "pre", "section", "table", "ul"}
CLOSES_SAME = {"li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "option": {"option"},
               "tr": {"tr", "td", "th"}, "td": {"td", "th"}, "th": {"td", "th"}}
INTERACTIVE = {"a", "button", "details", "label", "select", "textarea"}


class MarkupChecker(HTMLParser):
    """RGAA 8.2 (valid code), the part a browser would silently repair: stray or missing end tags,
    block elements inside <p>, nested forms and nested interactive elements, repeated attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def _where(self) -> str:
        return f"line {self.getpos()[0]}"

    def handle_starttag(self, tag, attrs):
        names = [name for name, _ in attrs]
        for name, count in Counter(names).items():
            if count > 1:
                self.problems.append(f"attribute {name}= repeated on <{tag}> {self._where()}")
        if tag in CLOSES_P and "p" in self.stack:
            if self.stack[-1] == "p":
                self.stack.pop()  # the end tag of a paragraph may be left out
            else:
                self.problems.append(f"<{tag}> inside a <p> (not allowed) {self._where()}")
        for closer in ("li", "dt", "dd", "option", "tr", "td", "th"):
            if tag == closer and self.stack and self.stack[-1] in CLOSES_SAME[closer]:
                self.stack.pop()
        if tag == "form" and "form" in self.stack:
            self.problems.append(f"<form> inside a <form> {self._where()}")
        if tag in ("a", "button") and any(t in ("a", "button") for t in self.stack):
            self.problems.append(f"<{tag}> inside a link or a button {self._where()}")
        if tag in INTERACTIVE and tag not in ("label", "details") and "a" in self.stack:
            self.problems.append(f"<{tag}> inside a link {self._where()}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problems.append(f"end tag </{tag}> of a void element {self._where()}")
            return
        if tag not in self.stack:
            self.problems.append(f"stray end tag </{tag}> {self._where()}")
            return
        while self.stack:
            open_tag = self.stack.pop()
            if open_tag == tag:
                break
            if open_tag not in OPTIONAL_END:
                self.problems.append(f"<{open_tag}> not closed before </{tag}> {self._where()}")

    def close(self):
        super().close()
        unclosed = [tag for tag in self.stack if tag not in OPTIONAL_END]
        if unclosed:
            self.problems.append(f"elements never closed: {unclosed}")


def check_markup(html: str) -> list[str]:
    checker = MarkupChecker()
    checker.feed(html)
    checker.close()
    return checker.problems


def check_page(html: str) -> list[str]:
    """Every accessibility problem found in the page ``html``, one sentence each."""
    problems = check_markup(html)
    try:
        doc = lxml.html.document_fromstring(html)
    except Exception as error:  # noqa: BLE001 - an unparsable page is a finding, not a crash
        return [f"the page cannot be parsed: {error}"]
    elements = [e for e in doc.iter() if isinstance(e.tag, str)]
    ids = Counter(e.get("id") for e in elements if e.get("id") is not None)
    by_id = {e.get("id"): e for e in elements if e.get("id") is not None}

    def name_of(element) -> str:
        """The accessible name: aria-labelledby, aria-label, then the contents (or value, alt)."""
        if element.get("aria-labelledby"):
            return " ".join(_text(by_id[i]) for i in element.get("aria-labelledby").split() if i in by_id)
        if (element.get("aria-label") or "").strip():
            return element.get("aria-label").strip()
        if element.tag == "input":
            return (element.get("value") or element.get("alt") or "").strip()
        return _text(element)

    # --- language, title
    if doc.tag != "html" or doc.get("lang") != "fr":
        problems.append(f'<html> must have lang="fr" (found lang={doc.get("lang")!r})')
    for meta in doc.iterfind(".//meta[@name='viewport']"):
        content = (meta.get("content") or "").replace(" ", "").lower()
        if "user-scalable=no" in content or "user-scalable=0" in content or "maximum-scale=1" in content:
            problems.append(f"the viewport forbids zooming (RGAA 10.4): {meta.get('content')}")
    titles = doc.findall(".//title")
    if len(titles) != 1 or not " ".join(titles[0].text_content().split()):
        problems.append(f"the page needs exactly one non-empty <title> (found {len(titles)})")

    # --- headings: one h1, no level skipped going down, each with words
    headings = [e for e in elements if re.fullmatch(r"h[1-6]", e.tag)]
    h1s = [e for e in headings if e.tag == "h1"]
    if len(h1s) != 1:
        problems.append(f"the page needs exactly one <h1> (found {len(h1s)}: "
                        f"{'; '.join(describe(e) for e in h1s) or 'none'})")
    previous = 0
    for heading in headings:
        level = int(heading.tag[1])
        if level > previous + 1:
            problems.append(f"heading level skipped: h{previous or '(none)'} then {describe(heading)}")
        if not _text(heading):
            problems.append(f"empty heading {describe(heading)}")
        previous = level

    # --- skip link and landmarks
    body = doc.find("body")
    links = [e for e in elements if e.tag == "a" and e.get("href") is not None]
    if not links or links[0].get("href") != "#contenu":
        problems.append('the first link of the page must be the skip link to "#contenu" '
                        f"(found {describe(links[0]) if links else 'no link'})")
    mains = [e for e in elements if e.tag == "main" or e.get("role") == "main"]
    if len(mains) != 1 or mains[0].get("id") != "contenu":
        problems.append(f'the page needs exactly one <main id="contenu"> (found {len(mains)})')

    def top_level(element) -> bool:
        return not any(a.tag in SECTIONING for a in _ancestors(element))

    banners = [e for e in elements if e.get("role") == "banner" or (e.tag == "header" and top_level(e))]
    if len(banners) != 1:
        problems.append(f"the page needs exactly one banner (<header> outside sections) "
                        f"(found {len(banners)})")
    footers = [e for e in elements if e.get("role") == "contentinfo" or (e.tag == "footer" and top_level(e))]
    if len(footers) != 1:
        problems.append(f"the page needs exactly one contentinfo (<footer> outside sections) "
                        f"(found {len(footers)})")
    navs = [e for e in elements if e.tag == "nav" or e.get("role") == "navigation"]
    if not navs:
        problems.append("the page has no <nav>")
    nav_names = Counter()
    for nav in navs:
        label = (nav.get("aria-label") or "").strip() or (name_of(nav) if nav.get("aria-labelledby") else "")
        if not label:
            problems.append(f"navigation without aria-label: {describe(nav)}")
        nav_names[label] += 1
    for label, count in nav_names.items():
        if label and count > 1:
            problems.append(f"{count} navigations share the label « {label} »: each needs its own")

    # --- ids and references to ids
    for value, count in ids.items():
        if count > 1:
            problems.append(f'id="{value}" is used {count} times')
        if not value.strip() or len(value.split()) > 1:
            problems.append(f'invalid id="{value}" (empty or with spaces)')
    for element in elements:
        for attribute in ID_REFERENCES:
            for target in (element.get(attribute) or "").split():
                if target not in by_id:
                    problems.append(f'{attribute}="{target}" points to no element: {describe(element)}')
        if element.get("aria-invalid") == "true" and not element.get("aria-describedby"):
            problems.append(f"invalid field without aria-describedby to its error: {describe(element)}")
        tabindex = element.get("tabindex")
        if tabindex is not None and tabindex.lstrip("-").isdigit() and int(tabindex) > 0:
            problems.append(f"positive tabindex changes the reading order: {describe(element)}")
    for link in links:
        href = link.get("href")
        if href == "#":
            problems.append(f'link to "#" (a button in disguise?): {describe(link)}')
        elif href.startswith("#") and href[1:] not in by_id:
            problems.append(f"in-page link to a missing id: {describe(link)}")

    # --- fields and their labels
    labels_for = defaultdict(list)
    for label in (e for e in elements if e.tag == "label"):
        if label.get("for") is not None:
            labels_for[label.get("for")].append(label)
            target = by_id.get(label.get("for"))
            if target is None or target.tag not in LABELABLE or target.get("type") == "hidden":
                problems.append(f"<label for> must name a field on the page: {describe(label)}")
        if not _text(label):
            problems.append(f"empty label: {describe(label)}")
    groups = Counter()
    for element in elements:
        if element.tag not in LABELABLE:
            continue
        kind = (element.get("type") or "text").lower() if element.tag == "input" else element.tag
        if kind in NOT_LABELLED_INPUTS:
            if kind == "image" and not (element.get("alt") or "").strip():
                problems.append(f"image button without alt: {describe(element)}")
            continue
        wrapped = any(a.tag == "label" for a in _ancestors(element))
        if not wrapped and not labels_for.get(element.get("id") or "\0"):
            problems.append(f"field without a <label>: {describe(element)}")
        if kind in ("radio", "checkbox"):
            form = next((a for a in _ancestors(element) if a.tag == "form"), None)
            groups[(id(form), element.get("name"))] += 1
        if kind in ("email", "password", "tel") and not element.get("autocomplete"):
            problems.append(f"personal field without autocomplete (RGAA 11.13): {describe(element)}")
    for element in elements:
        kind = (element.get("type") or "").lower()
        if element.tag == "input" and kind in ("radio", "checkbox"):
            form = next((a for a in _ancestors(element) if a.tag == "form"), None)
            if groups[(id(form), element.get("name"))] > 1:
                fieldset = next((a for a in _ancestors(element) if a.tag == "fieldset"), None)
                legend = fieldset.find("legend") if fieldset is not None else None
                if legend is None or not _text(legend):
                    problems.append(f"a group of {kind}es needs a <fieldset> with a <legend>: "
                                    f"{describe(element)}")
    for marker in (e for e in elements if "required" in _classes(e)):
        if "obligatoire" not in marker.text_content() and "astérisque" not in doc.text_content():
            problems.append(f"required-field marker whose meaning is written nowhere: {describe(marker)}")

    # --- tables
    for table in (e for e in elements if e.tag == "table"):
        caption = table.find("caption")
        if caption is None or not _text(caption):
            problems.append(f"table without a <caption>: {describe(table)}")
        headers = table.findall(".//th")
        if not headers:
            problems.append(f"table without <th> headers: {describe(table)}")
        for header in headers:
            if header.get("scope") not in ("col", "row", "colgroup", "rowgroup"):
                problems.append(f"<th> without scope: {describe(header)}")
            if not _text(header):
                problems.append(f"empty <th>: {describe(header)}")
        wrapper = table.getparent()
        if "table-wrap" not in _classes(wrapper):
            problems.append(f'table not inside a <div class="table-wrap"> (it would widen the page on a '
                            f"phone): {describe(table)}")
        elif (wrapper.get("tabindex") != "0" or wrapper.get("role") != "region"
              or not name_of(wrapper)):
            problems.append('a scrolling table wrapper needs tabindex="0", role="region" and a name '
                            f"(aria-labelledby its caption): {describe(wrapper)}")

    # --- images, links, buttons, summaries
    for element in elements:
        if element.tag == "img" and element.get("alt") is None:
            problems.append(f"image without alt: {describe(element)}")
        named = element.tag in ("button", "summary") or (element.tag == "a" and element.get("href"))
        if named and not name_of(element):
            problems.append(f"{element.tag} without text: {describe(element)}")
        if element.tag == "input" and (element.get("type") or "") in ("submit", "button", "reset"):
            if not (element.get("value") or "").strip():
                problems.append(f"button without text: {describe(element)}")

    # --- lists hold list items; a link's words say where it goes (RGAA 6.1, 9.3)
    for element in elements:
        children = [c.tag for c in element if isinstance(c.tag, str)]
        if element.tag in ("ul", "ol") and set(children) - {"li", "template", "script"}:
            problems.append(f"<{element.tag}> with children other than <li>: {describe(element)}")
        if element.tag == "dl" and set(children) - {"dt", "dd", "div", "template", "script"}:
            problems.append(f"<dl> with children other than <dt>/<dd>: {describe(element)}")
    destinations = defaultdict(set)
    for link in links:
        if not link.get("href").startswith("#"):
            destinations[name_of(link).lower()].add(link.get("href").split("#")[0])
    for words, hrefs in destinations.items():
        if words and len(hrefs) > 1:
            problems.append(f"links with the same words « {words} » lead to {len(hrefs)} different "
                            f"pages: {sorted(hrefs)}")

    # --- no script, no inline style, badges in words
    for element in elements:
        if element.tag == "script" and not element.get("src"):
            problems.append(f"inline <script>: {describe(element)}")
        for attribute in element.attrib:
            if attribute.lower().startswith("on"):
                problems.append(f"inline event handler {attribute}=: {describe(element)}")
        if element.get("style") is not None:
            problems.append(f"style= attribute (presentation belongs to the stylesheet): {describe(element)}")
        if "badge" in _classes(element) and not _text(element):
            problems.append(f"badge without words (state told by colour alone): {describe(element)}")
    return problems


def check_form_error_page(html: str) -> list[str]:
    """On a form re-shown with errors: a summary with role=alert whose links lead to invalid fields,
    each field marked aria-invalid and described by its error message."""
    problems = []
    doc = lxml.html.document_fromstring(html)
    summaries = doc.find_class("error-summary")
    if not summaries:
        return ["no error summary (class error-summary) at the top of the form"]
    if summaries[0].get("role") != "alert":
        problems.append("the error summary needs role=alert")
    invalid = doc.xpath('//*[@aria-invalid="true"]')
    targets = {link.get("href")[1:] for summary in summaries for link in summary.iter("a")
               if (link.get("href") or "").startswith("#")}
    for element in invalid:
        described = [doc.get_element_by_id(i, None) for i in (element.get("aria-describedby") or "").split()]
        if not any(e is not None and "error-message" in _classes(e) for e in described):
            problems.append(f"invalid field not described by its error message: {describe(element)}")
    for target in targets:
        element = doc.get_element_by_id(target, None)
        if element is None:
            problems.append(f"the summary links to #{target}, which is not on the page")
    if not invalid and not summaries[0].findall(".//li"):
        problems.append("the summary lists no error and no field is marked aria-invalid")
    return problems


# =========================================================================== the data set

class FakeUpload:
    def __init__(self, content: bytes, filename: str):
        self.stream = io.BytesIO(content)
        self.filename = filename


@dataclass
class DataSet:
    persons: dict  # kind -> User (None for anonymous)
    values: dict  # URL argument -> {label: value}
    committee_id: int
    draft: str  # references used by the form pages
    company_id: int
    agency_id: int
    scheme_id: int


def build_data(world, create_case, create_meeting) -> DataSet:
    """Dossiers in every state, through the operations, as they would be after real use."""
    w = world
    today = paris_today()
    # A webhook of the Region: its log of deliveries has rows (and failed attempts, below) to show.
    create_webhook(w.admin, w.region, url="https://region.example/evenements", secret="secret-de-la-page-de-test")
    draft = create_case("draft", lines=[(w.region_scheme, "60000"), (w.aer_scheme, "30000")])
    ops.declare_minimis_aid(w.applicant, draft, granted_on=today - timedelta(days=400),
                            granting_body="Département de la Côte-d'Or", amount="12000",
                            regime="de_minimis")
    empty_draft = ops.create_case(w.applicant, w.company, title="Projet à peine commencé")
    from atelier.plans import operations as plans

    plans.save_plan(w.applicant, draft, expenses=[
        {"category": "tangible", "label": "Presse plieuse", "amount": "200000"},
        {"category": "consulting", "label": "Étude de marché", "amount": "50000"}], resources=[
        {"kind": "public_aid", "label": "Département de la Côte-d'Or", "amount": "20000",
         "status": "requested"},
        {"kind": "own_funds", "label": "", "amount": "140000"}])

    incomplete = create_case("incomplete")
    ops.post_message(w.applicant, incomplete, body="Le Kbis arrive cette semaine.")
    submitted = create_case("submitted")
    ops.post_message(w.region_agent, submitted, body="Vérifier les devis.", internal=True)

    # In review: the Region line granted, signed and partly paid; the Bpifrance line waits for
    # opinions (one answered, one overdue, one pending from the Region).
    review = create_case("in_review")
    region_line, bpi_line = review.lines
    ops.propose_line(w.region_agent, region_line, meeting=w.region_meeting, proposed_amount="55000")
    ops.approve_line(w.region_secretary, region_line, granted_amount="50000")
    ops.sign_agreement(w.region_agent, region_line, signed_on=today)
    ops.record_payment(w.region_agent, region_line, amount="20000", paid_on=today)
    answered = ops.ask_opinion(w.bpi_agent, bpi_line, agency=w.aer, due_on=today + timedelta(days=10),
                               question="Cofinancez-vous ?")
    ops.give_opinion(w.aer_agent, answered, verdict="favourable", intended_amount="15000",
                     comment="Projet solide.")
    late = ops.ask_opinion(w.bpi_agent, bpi_line, agency=w.aer, due_on=today + timedelta(days=1),
                           question="Et pour la seconde tranche ?")
    late.due_on = today - timedelta(days=3)  # asked long ago: now overdue
    ops.ask_opinion(w.bpi_agent, bpi_line, agency=w.region, due_on=today + timedelta(days=15))
    ops.post_message(w.applicant, review, body="Bonjour,\nvoici le calendrier des travaux.")
    ops.post_message(w.region_agent, review, body="Merci, bien reçu.")
    ops.post_message(w.region_agent, review, body="Dossier solide.", internal=True)

    # On the agenda: both lines before their committees, waiting for a decision.
    agenda = create_case("in_review", lines=[(w.region_scheme, "80000"), (w.aer_scheme, "20000")])
    ops.propose_line(w.region_agent, agenda.lines[0], meeting=w.region_meeting, proposed_amount="70000")
    ops.propose_line(w.aer_agent, agenda.lines[1], meeting=w.aer_meeting, proposed_amount="20000")

    # Closed: every line refused, so the dossier closed by itself (and the Region line may reopen).
    closed = create_case("in_review")
    for line, agent, secretary, meeting in ((closed.lines[0], w.region_agent, w.region_secretary,
                                             w.region_meeting),
                                            (closed.lines[1], w.bpi_agent, w.bpi_secretary, w.bpi_meeting)):
        ops.propose_line(agent, line, meeting=meeting, proposed_amount="30000")
        ops.reject_line(secretary, line, reason="Hors des priorités du dispositif.")
    create_case("in_review", lines=[(w.region_scheme, "45000")])  # a line waiting in the Region's inbox
    dismissed = create_case("dismissed")
    withdrawn = create_case("withdrawn")
    other = create_case("submitted", applicant=w.other_applicant, company=w.other_company)
    past_meeting = create_meeting(w.region_committee, in_days=-30, place="Besançon")
    # Pieces asked by a scheme (only now: the dossiers above were submitted without them).
    w.aer_scheme.required_documents = ["business_plan", "kbis"]
    db.session.flush()
    documents.add_document(w.applicant, draft, "business_plan", FakeUpload(PDF, "plan d'affaires.pdf"))
    db.session.commit()
    deliver_due(sender=lambda *args: (503, None))

    cases = {"brouillon": draft, "brouillon-vide": empty_draft, "incomplet": incomplete,
             "depose": submitted, "en-instruction": review, "en-comite": agenda, "clos": closed,
             "classe": dismissed, "retire": withdrawn, "autre-entreprise": other}
    return DataSet(
        persons={"anonymous": None, "applicant": w.applicant, "agent": w.region_agent,
                 "secretary": w.region_secretary, "partner": w.aer_agent, "admin": w.admin},
        values={
            "reference": {label: case.reference for label, case in cases.items()},
            "company_id": {"entreprise": w.company.id, "autre-entreprise": w.other_company.id},
            "meeting_id": {"seance-region": w.region_meeting.id, "seance-aer": w.aer_meeting.id,
                           "seance-passee": past_meeting.id},
            "code": {"dispositif-region": w.region_scheme.code, "dispositif-bpi": w.bpi_scheme.code},
            "scheme_id": {"dispositif-region": w.region_scheme.id},
            "agency_id": {"region": w.region.id},
            "user_id": {"agent": w.region_agent.id},
            "token": {"lien-de-reinitialisation": password_reset_token(w.applicant),
                      "lien-de-confirmation": request_registration(
                          email="nouvelle@exemple.fr", name="Nouvelle Porteuse",
                          password="une phrase de passe").token},
        },
        committee_id=w.region_committee.id, draft=draft.reference, company_id=w.company.id,
        agency_id=w.region.id, scheme_id=w.region_scheme.id,
    )


# =========================================================================== the crawl

@dataclass
class Page:
    person: str
    endpoint: str
    url: str
    status: int
    content_type: str
    html: str = ""
    problems: list = field(default_factory=list)
    method: str = "GET"

    @property
    def is_html(self) -> bool:
        return self.content_type.startswith("text/html")

    def __str__(self) -> str:
        return f"{self.person} {self.method} {self.url} ({self.status})"


def _as(person: str, data: DataSet):
    """Forget the person Flask-Login cached in the shared app context, then log ``person`` in."""
    def prepare(client):
        g.pop("_login_user", None)
        user = data.persons[person]
        with client.session_transaction() as session:
            session.clear()
        if user is not None:
            login(client, user)
    return prepare


def _urls(app, endpoint: str, data: DataSet) -> list[str]:
    """Every URL of ``endpoint`` with the data set's real ids, times its query variants."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]
    urls = []
    for rule in rules:
        fillings = [{}]
        for argument in sorted(rule.arguments):
            if argument not in data.values:
                raise AssertionError(f"the crawler cannot fill <{argument}> of {rule.rule}: "
                                     "add its values to build_data")
            fillings = [{**f, argument: value} for f in fillings for value in data.values[argument].values()]
        for filling in fillings:
            path = rule.rule
            for argument, value in filling.items():
                path = re.sub(rf"<(?:[a-z]+:)?{argument}>", str(value), path)
            for query in QUERY_VARIANTS.get(endpoint, [{}]):
                query = {k: v.format(committee_id=data.committee_id) for k, v in query.items()}
                urls.append(path + ("?" + urlencode(query) if query else ""))
    return urls


def _get(client, url: str, prepare) -> tuple[int, str, str]:
    prepare(client)
    response = client.get(url, base_url="http://atelier.test")
    return response.status_code, response.content_type or "", response.get_data(as_text=True)


def crawl(app, data: DataSet) -> dict[str, list[Page]]:
    pages = defaultdict(list)
    client = app.test_client()
    for person in PERSONS:
        prepare = _as(person, data)
        for endpoint in HTML_ENDPOINTS:
            for url in _urls(app, endpoint, data):
                status, content_type, body = _get(client, url, prepare)
                page = Page(person, endpoint, url, status, content_type)
                if page.is_html and not 300 <= status < 400:  # a redirect's body is no page
                    page.html = body
                    page.problems = ([f"server error {status}"] if status >= 500 else []) + check_page(body)
                pages[endpoint].append(page)
    return pages


# The main forms, posted with wrong data: (label, person, URL template, data).
FORMS_WITH_ERRORS = {
    "auth.login": ("anonymous", "/connexion", {"email": "pas-une-adresse", "password": ""}),
    "auth.register": ("anonymous", "/inscription", {"name": "", "email": "x", "password": "court",
                                                     "confirm": "autre"}),
    "companies.new_company": ("applicant", "/entreprises/nouvelle", {"siret": "123", "name": "",
                                                                     "headcount": "beaucoup"}),
    "companies.edit_company": ("applicant", "/entreprises/{company_id}/modifier", {"name": "",
                                                                                 "turnover": "-3"}),
    "cases.new_case": ("applicant", "/dossiers/nouveau", {"title": "", "eligible_cost": "cher",
                                                          "starts_on": "31/02/2026"}),
    "cases.edit_case": ("applicant", "/dossiers/{draft}/modifier", {"title": "", "starts_on": "demain"}),
    "cases.add_line": ("applicant", "/dossiers/{draft}/demandes", {"line-scheme": "",
                                                                   "line-requested_amount": "-5"}),
    "cases.add_minimis": ("applicant", "/dossiers/{draft}/de-minimis", {"minimis-amount": "x",
                                                                        "minimis-granted_on": "hier"}),
    "cases.declare_no_minimis": ("applicant", "/dossiers/{empty_draft}/de-minimis/aucune", {}),
    "cases.upload_document": ("applicant", "/dossiers/{draft}/pieces", {"document-kind": ""}),
    "plans.edit_plan": ("applicant", "/dossiers/{draft}/plan-de-financement", {
        "expenses-0-category": "bijoux", "expenses-0-label": "", "expenses-0-amount": "beaucoup",
        "resources-0-kind": "public_aid", "resources-0-amount": "10"}),
    "cases.post_message (applicant)": ("applicant", "/dossiers/{draft}/messages", {"body": ""}),
    "cases.post_message (agent)": ("agent", "/dossiers/{incomplete}/messages", {"body": "  "}),
    "committees.new_meeting": ("secretary", "/comites/seances/nouvelle", {"committee": "",
                                                                          "meets_on": "hier"}),
    "admin.new_agency": ("admin", "/admin/organismes/nouveau", {"name": "", "slug": "Pas Bon"}),
    "admin.edit_agency": ("admin", "/admin/organismes/{agency_id}/modifier", {"name": "", "siret": "1"}),
    "admin.new_user": ("admin", "/admin/utilisateurs/nouveau", {"email": "x", "password": "a",
                                                               "confirm": "b"}),
    "admin.new_committee": ("admin", "/admin/comites/nouveau", {"name": ""}),
    "admin.new_scheme": ("admin", "/admin/dispositifs/nouveau", {"code": "é", "ceiling": "beaucoup"}),
    "admin.edit_scheme": ("admin", "/admin/dispositifs/{scheme_id}/modifier", {"name": "",
                                                                              "max_rate": "150"}),
    "webhooks.new_webhook": ("admin", "/admin/organismes/{agency_id}/webhooks/nouveau",
                             {"url": "ftp://exemple", "secret": "court"}),
    "notifications.save_preferences": ("agent", "/compte/notifications", {"notifications-inbox_new": "jamais"}),
    "auth.change_password_page": ("applicant", "/compte/mot-de-passe", {"current": "", "password": "court",
                                                                         "confirm": "x"}),
    "auth.forgot_password": ("anonymous", "/mot-de-passe-oublie", {"email": ""}),
    "auth.reset_password_page": ("anonymous", "/mot-de-passe-oublie/{token}", {"password": "court",
                                                                               "confirm": "x"}),
}


def post_forms(app, data: DataSet) -> dict[str, Page]:
    pages = {}
    client = app.test_client()
    references = data.values["reference"]
    for label, (person, template, form) in FORMS_WITH_ERRORS.items():
        url = template.format(company_id=data.company_id, draft=data.draft, agency_id=data.agency_id,
                              scheme_id=data.scheme_id, incomplete=references["incomplet"],
                              empty_draft=references["brouillon-vide"],
                              token=data.values["token"]["lien-de-reinitialisation"])
        _as(person, data)(client)
        response = client.post(url, data=form, base_url="http://atelier.test")
        page = Page(person, label, url, response.status_code, response.content_type or "",
                    response.get_data(as_text=True), method="POST")
        page.problems = check_page(page.html) + check_form_error_page(page.html)
        if page.status != 422:
            page.problems.insert(0, f"expected status 422, got {page.status}")
        pages[label] = page
    return pages


_CRAWL: dict = {}


@pytest.fixture
def site(request, app):
    """The crawled pages (built on first use, then reused by every test of this module)."""
    if not _CRAWL:
        world = request.getfixturevalue("world")
        data = build_data(world, request.getfixturevalue("create_case"),
                          request.getfixturevalue("create_meeting"))
        _CRAWL["pages"] = crawl(app, data)
        _CRAWL["forms"] = post_forms(app, data)
    return _CRAWL


def _report(pages) -> str:
    lines = []
    for page in pages:
        if page.problems:
            lines.append(f"\n{page}:")
            lines.extend(f"  - {problem}" for problem in page.problems)
    return "\n".join(lines)


def _params(names, known=KNOWN_PROBLEMS):
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=known[name]))
            if name in known else name for name in names]


# =========================================================================== the tests

@pytest.mark.parametrize("endpoint", _params(HTML_ENDPOINTS))
def test_every_page_of_the_route_is_accessible(site, endpoint):
    pages = site["pages"][endpoint]
    assert any(page.status == 200 and page.is_html for page in pages), \
        f"no person reached a page of {endpoint}: {[str(p) for p in pages]}"
    failing = [page for page in pages if page.problems]
    if failing:
        pytest.fail(_report(failing), pytrace=False)


@pytest.mark.parametrize("form", _params(FORMS_WITH_ERRORS))
def test_form_page_with_errors_is_accessible(site, form):
    page = site["forms"][form]
    if page.problems:
        pytest.fail(_report([page]), pytrace=False)


def test_no_page_answers_a_server_error(site):
    errors = [str(page) for pages in site["pages"].values() for page in pages if page.status >= 500]
    errors += [str(page) for page in site["forms"].values() if page.status >= 500]
    assert not errors


def test_titles_are_unique_per_page(site):
    """Two different pages (different paths) never share a <title>; error pages are one page."""
    paths_by_title = defaultdict(set)
    for pages in site["pages"].values():
        for page in pages:
            if page.status == 200 and page.is_html:
                title = lxml.html.document_fromstring(page.html).findtext(".//title")
                paths_by_title[" ".join(title.split())].add(urlsplit(page.url).path)
    shared = {title: sorted(paths) for title, paths in paths_by_title.items() if len(paths) > 1}
    assert not shared, "\n".join(f"« {title} » is the title of {paths}" for title, paths in shared.items())


def test_every_get_route_is_crawled(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if "GET" in rule.methods and not rule.endpoint.startswith("api.")}  # JSON: tests/api
    assert endpoints == set(HTML_ENDPOINTS) | set(NOT_HTML_ENDPOINTS)


def test_every_person_sees_pages(site):
    """The crawl really saw each kind of person's own pages (a broken login would pass silently)."""
    seen = defaultdict(set)
    for endpoint, pages in site["pages"].items():
        for page in pages:
            if page.status == 200:
                seen[page.person].add(endpoint)
    assert {"cases.my_cases", "cases.edit_case", "cases.show_case"} <= seen["applicant"]
    assert {"inbox.inbox", "cases.show_case"} <= seen["agent"]
    assert {"committees.show_meeting", "committees.new_meeting"} <= seen["secretary"]
    assert {"inbox.inbox", "cases.show_case"} <= seen["partner"]
    assert {"admin.dashboard", "admin.edit_scheme", "cases.show_case"} <= seen["admin"]
    assert {"main.home", "auth.login", "schemes.catalogue"} <= seen["anonymous"]
    assert "cases.show_case" not in seen["anonymous"]


def test_the_404_page_is_accessible(client):
    response = client.get("/dispositifs/AUCUN-DISPOSITIF")
    assert response.status_code == 404
    assert check_page(response.get_data(as_text=True)) == []


# =========================================================================== the checker itself

GOOD_PAGE = """<!doctype html><html lang="fr"><head><title>Page — Atelier</title></head><body>
<a href="#contenu">Aller au contenu</a>
<header role="banner"><nav aria-label="Navigation principale"><a href="/">Accueil</a></nav></header>
<main id="contenu">{}</main>
<footer role="contentinfo"><p>Pied</p></footer></body></html>"""


def test_a_good_page_passes():
    page = GOOD_PAGE.format("<h1>Titre</h1><h2>Partie</h2><h3>Sous-partie</h3><h2>Autre</h2>")
    assert check_page(page) == []


@pytest.mark.parametrize("content, expected", [
    ("<h1>Titre</h1><h3>Trop bas</h3>", "heading level skipped"),
    ("<h2>Pas de h1</h2>", "exactly one <h1>"),
    ("<h1>Un</h1><h1>Deux</h1>", "exactly one <h1>"),
    ("<h1>T</h1><input id='a' name='a'>", "field without a <label>"),
    ("<h1>T</h1><label for='b'>B</label><input id='a' name='a'>", "<label for> must name a field"),
    ("<h1>T</h1><label>Nom <input name='a'></label>", None),
    ("<h1>T</h1><input type='hidden' name='a'><button type='submit'>Envoyer</button>", None),
    ("<h1>T</h1><p id='x'></p><p id='x'></p>", 'id="x" is used 2 times'),
    ("<h1>T</h1><input id='a' aria-describedby='nulle-part'><label for='a'>A</label>",
     "points to no element"),
    ("<h1>T</h1><div class='table-wrap' tabindex='0' role='region' aria-label='T'><table><caption>C"
     "</caption><tr><td>1</td></tr></table></div>", "without <th>"),
    ("<h1>T</h1><div class='table-wrap' tabindex='0' role='region' aria-label='T'><table><caption>C"
     "</caption><tr><th>A</th></tr></table></div>", "<th> without scope"),
    ("<h1>T</h1><div class='table-wrap' tabindex='0' role='region' aria-label='T'><table><tr>"
     "<th scope='col'>A</th></tr></table></div>", "without a <caption>"),
    ("<h1>T</h1><table><caption>C</caption><tr><th scope='col'>A</th></tr></table>", "table-wrap"),
    ("<h1>T</h1><div class='table-wrap'><table><caption>C</caption><tr><th scope='col'>A</th></tr>"
     "</table></div>", 'role="region"'),
    ("<h1>T</h1><img src='x.png'>", "image without alt"),
    ("<h1>T</h1><a href='/x'></a>", "a without text"),
    ("<h1>T</h1><a href='/x'><span aria-hidden='true'>→</span></a>", "a without text"),
    ("<h1>T</h1><button type='submit'></button>", "button without text"),
    ("<h1>T</h1><button type='submit' aria-label='Fermer'>×</button>", None),
    ("<h1>T</h1><script>alert(1)</script>", "inline <script>"),
    ("<h1>T</h1><p onclick='x()'>clic</p>", "inline event handler"),
    ("<h1>T</h1><p style='color:red'>Refusé</p>", "style= attribute"),
    ("<h1>T</h1><span class='badge badge-rejected'></span>", "badge without words"),
    ("<h1>T</h1><a href='#absent'>Aller</a>", "in-page link to a missing id"),
    ("<h1>T</h1><form><input type='radio' id='r1' name='v'><label for='r1'>Oui</label>"
     "<input type='radio' id='r2' name='v'><label for='r2'>Non</label></form>", "<fieldset> with a <legend>"),
    ("<h1>T</h1><form><fieldset><legend>Avis</legend><input type='radio' id='r1' name='v'><label for='r1'>"
     "Oui</label><input type='radio' id='r2' name='v'><label for='r2'>Non</label></fieldset></form>", None),
    ("<h1>T</h1><label for='e'>Courriel</label><input type='email' id='e' name='e'>", "autocomplete"),
    ("<h1>T</h1><label for='e'>Nom</label> <span class='required'>*</span><input id='e' name='e'>",
     "required-field marker"),
    ("<h1>T</h1><nav><a href='/a'>A</a></nav>", "navigation without aria-label"),
    ("<h1>T</h1><nav aria-label='Navigation principale'><a href='/a'>A</a></nav>", "share the label"),
    ("<h1>T</h1><a href='/a' tabindex='3'>A</a>", "positive tabindex"),
    ("<h1>T</h1><p>Texte<div>bloc</div></p>", "stray end tag </p>"),
    ("<h1>T</h1><p>Texte <span><div>bloc</div></span></p>", "<div> inside a <p>"),
    ("<h1>T</h1><div><span>non fermé</div>", "<span> not closed"),
    ("<h1>T</h1><form><form></form></form>", "<form> inside a <form>"),
    ("<h1>T</h1><a href='/a'><button type='button'>B</button></a>", "inside a link or a button"),
    ("<h1>T</h1><p class='a' class='b'>x</p>", "attribute class= repeated"),
    ("<h1>T</h1><ul><div>x</div></ul>", "children other than <li>"),
    ("<h1>T</h1><dl><p>x</p></dl>", "children other than <dt>/<dd>"),
    ("<h1>T</h1><a href='/a'>Voir</a> <a href='/b'>Voir</a>", "same words « voir »"),
    ("<h1>T</h1><a href='/a'>Voir</a> <a href='/a#x'>Voir</a><p id='x'>x</p>", None),
    ("<h1>T</h1><ul><li>un<li>deux</ul><dl><dt>a<dd>b</dl><p>un<p>deux", None),
    ("<h1>T</h1><div class='table-wrap' tabindex='0' role='region' aria-label='T'><table><caption>C"
     "</caption><tr><th scope='col'></th></tr></table></div>", "empty <th>"),
    ("<h1>T</h1><p id='a b'>x</p>", 'invalid id="a b"'),
])
def test_the_checker_finds_each_problem(content, expected):
    problems = check_page(GOOD_PAGE.format(content))
    if expected is None:
        assert problems == []
    else:
        assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("page, expected", [
    ('<html lang="en"><head><title>T</title></head><body></body></html>', 'lang="fr"'),
    ('<html lang="fr"><head><title> </title></head><body></body></html>', "<title>"),
    ('<html lang="fr"><head><title>T</title></head><body><main id="contenu"><h1>T</h1></main></body></html>',
     "skip link"),
    ('<html lang="fr"><head><title>T</title></head><body><a href="#contenu">Aller</a><main><h1>T</h1></main>'
     '</body></html>', '<main id="contenu">'),
    ('<html lang="fr"><head><title>T</title></head><body><a href="#contenu">Aller</a>'
     '<main id="contenu"><h1>T</h1></main></body></html>', "banner"),
    ('<html lang="fr"><head><title>T</title><meta name="viewport" content="width=device-width, '
     'maximum-scale=1"></head><body></body></html>', "forbids zooming"),
])
def test_the_checker_finds_problems_of_the_frame(page, expected):
    assert any(expected in problem for problem in check_page(page))


def test_the_form_checker_wants_a_summary_and_described_fields():
    page = GOOD_PAGE.format("<h1>T</h1><label for='a'>A</label><input id='a' aria-invalid='true'>")
    assert any("no error summary" in problem for problem in check_form_error_page(page))
    page = GOOD_PAGE.format("<h1>T</h1><div class='error-summary' role='alert'><h2>1 erreur</h2><ul><li>"
                            "<a href='#a'>A</a></li></ul></div><label for='a'>A</label>"
                            "<input id='a' aria-invalid='true' aria-describedby='a-hint'>"
                            "<p id='a-hint'>x</p>")
    assert any("not described by its error message" in problem for problem in check_form_error_page(page))


# =========================================================================== the accessibility statement

def test_every_page_links_to_the_accessibility_statement_with_its_level(site):
    """RGAA asks for « Accessibilité : non / partiellement / totalement conforme » on every page."""
    missing = []
    for pages in site["pages"].values():
        for page in pages:
            if page.status == 200 and page.is_html:
                doc = lxml.html.document_fromstring(page.html)
                links = doc.xpath('//footer//a[@href="/accessibilite"]')
                if not links or " ".join(links[0].text_content().split()) != "Accessibilité : non conforme":
                    missing.append(str(page))
    assert not missing


def test_the_accessibility_statement_is_honest_and_says_how_to_complain(client):
    response = client.get("/accessibilite")
    assert response.status_code == 200
    page = " ".join(lxml.html.document_fromstring(response.get_data(as_text=True)).text_content().split())
    assert "Atelier des projets est non conforme avec le référentiel général d'amélioration de " \
           "l'accessibilité (RGAA), version 4.1" in page
    assert "Aucun audit de conformité n'a encore été réalisé" in page
    assert "Limites connues" in page and "Ce qui est vérifié" in page
    assert 'href="mailto:accessibilite@atelier-des-projets.fr"' in response.get_data(as_text=True)
    assert "Défenseur des droits" in page and "Libre réponse 71120" in page


def test_the_main_menu_tells_where_we_are(client, world):
    login(client, world.applicant)
    page = client.get("/dossiers/").get_data(as_text=True)
    assert '<a href="/dossiers/" aria-current="page">Mes dossiers</a>' in page
    assert '<a href="/entreprises/">Mes entreprises</a>' in page
    g.pop("_login_user", None)
    page = client.get(f"/entreprises/{world.company.id}").get_data(as_text=True)
    assert '<a href="/entreprises/" aria-current="true">Mes entreprises</a>' in page


# =========================================================================== 360 pixels wide, in a browser

CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if path), None)
STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "atelier.css"
MEASURE = """
window.addEventListener('load', function () {
  var report = [];
  document.querySelectorAll('iframe').forEach(function (frame) {
    var doc = frame.contentDocument, width = doc.documentElement.clientWidth, wide = [];
    doc.querySelectorAll('body *').forEach(function (el) {
      var box = el.getBoundingClientRect();
      if (box.width === 0 || (box.right <= width + 0.5 && box.left >= -0.5)) return;
      if (el.closest('.skip-link')) return;  /* off screen until focused, on purpose */
      var scroller = el.closest('.table-wrap');
      if (scroller && scroller !== el) return;  /* a table may be wider: its region scrolls */
      wide.push('<' + el.tagName.toLowerCase() + (el.id ? ' id="' + el.id + '"' : '')
                + (el.className ? ' class="' + el.className + '"' : '') + '> from ' + Math.round(box.left)
                + ' to ' + Math.round(box.right) + ' px « ' + el.textContent.trim().slice(0, 50) + ' »');
    });
    report.push({page: frame.title, scrollWidth: doc.documentElement.scrollWidth, width: width, wide: wide});
  });
  var out = document.createElement('pre');
  out.id = 'report';
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
"""


def _framed(page: Page, css: str) -> str:
    """The page as a 360 px wide iframe: stylesheet inlined, every <details> open (its form counts)."""
    html = page.html.replace('<link rel="stylesheet" href="/static/atelier.css">', f"<style>{css}</style>")
    html = html.replace("<details ", "<details open ")
    return (f'<iframe title="{escape(str(page))}" width="360" height="3000" '
            f'srcdoc="{escape(html, quote=True)}"></iframe>')


# Layout problems of pages owned elsewhere (strict: the test turns red once they are fixed).
LAYOUT_KNOWN_PROBLEMS: dict[str, str] = {}


@pytest.fixture
def layout(site, tmp_path_factory):
    """Every page (one per route and kind of person, and the form pages) measured once in Chromium."""
    if CHROMIUM is None:
        if os.environ.get("CI"):  # .ci/run installs Chromium: in CI this check must run
            pytest.fail("Chromium est absent alors que .ci/run doit l'installer")
        pytest.skip("Chromium n'est pas installé (vérification de la mise en page à 360 pixels)")
    if "layout" not in site:
        css = STYLESHEET.read_text(encoding="utf-8")
        chosen = {}
        for pages in site["pages"].values():
            for page in pages:
                if page.status == 200 and page.is_html:
                    chosen.setdefault((page.person, page.endpoint), page)
        pages = list(chosen.values()) + list(site["forms"].values())
        folder = tmp_path_factory.mktemp("chromium")
        probe = folder / "probe.html"
        probe.write_text("<!doctype html><html><head><meta charset='utf-8'></head><body>"
                         + "".join(_framed(page, css) for page in pages)
                         + f"<script>{MEASURE}</script></body></html>", encoding="utf-8")
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={folder / 'profile'}", "--window-size=1280,1024",
             "--virtual-time-budget=30000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=180)
        found = re.search(r'<pre id="report">(.*?)</pre>', result.stdout, re.S)
        assert found, f"Chromium gave no report: {result.stderr[-2000:]}"
        report = json.loads(unescape(found.group(1)))
        assert len(report) == len(pages)
        site["layout"] = list(zip(pages, report))
    return site["layout"]


@pytest.mark.parametrize("which", ["every other page",
                                   *_params(LAYOUT_KNOWN_PROBLEMS, LAYOUT_KNOWN_PROBLEMS)])
def test_nothing_is_wider_than_a_360_pixel_screen(layout, which):
    """In headless Chromium, 360 px wide: only tables (inside their scrolling region) may be wider."""
    if which == "every other page":
        measured = [(page, entry) for page, entry in layout if page.endpoint not in LAYOUT_KNOWN_PROBLEMS]
    else:
        measured = [(page, entry) for page, entry in layout if page.endpoint == which]
    assert measured
    too_wide = [f"{page}: page {entry['scrollWidth']} px wide\n    " + "\n    ".join(entry["wide"])
                for page, entry in measured if entry["scrollWidth"] > entry["width"] or entry["wide"]]
    if too_wide:
        pytest.fail("\n".join(too_wide), pytrace=False)
