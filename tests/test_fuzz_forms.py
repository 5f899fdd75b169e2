"""No 500 from any input (property-based, hypothesis): every form of the application receives generated
values — huge strings, unicode, control characters (NUL included), negative and enormous numbers,
impossible dates, missing and duplicated fields — posted by the person the form is shown to.

The forms are found the way a browser finds them: each kind of person opens every page the URL map has
(on dossiers in several states), and every ``<form method="post">`` is read — its action, its fields,
the values the page put in them (the version seen, the options of a list). The event forms the pages
did not show at that moment are added from ``event_forms.py``. Every POST route of the pages must be
reached that way (a new form is fuzzed without being listed here).

The answer is a page (a success, or an error said in French), never a 500 nor an exception, and the
database stays consistent after each example (``assert_consistent``): every dossier's and line's state
is the ``to_state`` of its last event, a line on the agenda has its agenda item, payments never exceed
the amount granted, and the audit chains verify.

Bounded and reproducible: FUZZ_EXAMPLES examples per form (environment variable, 12 by default),
derandomized, no example database left in the working tree.
"""
import io
import os
import shutil
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from flask import g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from atelier.cases import operations as ops
from atelier.cases.event_forms import CASE_FORMS, LINE_FORMS
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Event, FundingLine
from tests.conftest import login

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

# --------------------------------------------------------------------------- what is posted

HUGE_NUMBER = "9" * 40
TRICKY = ["", " ", "\x00", "a\x00b", "0", "-1", "-0", "1e309", "-1e309", "NaN", "Infinity", "-Infinity",
          "0.001", "1,5", "12 345,67", "12\u202f345,67 €", HUGE_NUMBER, "-" + HUGE_NUMBER, "2147483648",
          "9223372036854775808", "0000-00-00", "2024-02-30", "30/02/2024", "00/00/0000", "9999-12-31",
          "0001-01-01", "1899-12-31", "2101-01-01", "31/12/9999", "true", "y", "on", "None", "null",
          "=SUM(A1:A9)", "+33 1 23", "@cmd", "<script>alert(1)</script>", "../../etc/passwd",
          "\u202e\u0645\u0631\u062d\u0628\u0627", "🇫🇷🦆", "\r\n\t", "é" * 300, "x" * 5000,
          "ǅ\u0301\u0327", "\ufeff", "\U0010ffff"]


def _long(char: str, size: int) -> str:
    return char * size


VALUE = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),  # any unicode, control characters included
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(lambda day: day.isoformat()),
    st.dates().map(lambda day: day.strftime("%d/%m/%Y")),
    st.builds(_long, st.sampled_from(["a", "é", "\x00", "9", " ", "\n"]), st.integers(1000, 120_000)),
)


class Field(SimpleNamespace):
    """One named input of a form: its kind (text, file, checkbox…) and the values the page offered."""


def field_values(field: Field):
    """What one field receives: nothing, one value or the same name twice; often a value of the page."""
    offered = [value for value in field.offered if value is not None]
    one = st.one_of(st.sampled_from(offered), VALUE) if offered else VALUE
    return st.lists(one, min_size=0, max_size=2)


FILE = st.tuples(st.one_of(st.just(b"%PDF-1.4\n%%EOF\n"), st.binary(max_size=300)),
                 st.one_of(st.sampled_from(["bilan.pdf", "../../x.pdf", "a\x00.pdf", "é" * 300 + ".pdf",
                                            "photo.svg", ""]), st.text(max_size=30)))


def form_strategy(fields: list[Field]):
    return st.fixed_dictionaries({
        field.name: (st.lists(FILE, min_size=0, max_size=2) if field.kind == "file" else field_values(field))
        for field in fields})


def multidict(fields: list[Field], drawn: dict) -> tuple[MultiDict, bool]:
    data, files = MultiDict(), False
    for field in fields:
        for value in drawn[field.name]:
            if field.kind == "file":
                content, name = value
                data.add(field.name, (io.BytesIO(content), name))
                files = True
            else:
                data.add(field.name, value)
    return data, files


# --------------------------------------------------------------------------- finding the forms

class FormReader(HTMLParser):
    """The ``<form method="post">`` of a page: action and fields (with the values the page gives)."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, Field]]] = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._form = (attrs.get("action") or "", {})
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            kind = attrs.get("type", tag) if tag == "input" else tag
            field = self._form[1].setdefault(attrs["name"], Field(name=attrs["name"], kind=kind, offered=[]))
            if "value" in attrs:
                field.offered.append(attrs["value"])
            if tag == "select":
                self._select = field
        elif tag == "option" and self._select is not None:
            self._select.offered.append(attrs.get("value"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _lines(case: Case) -> tuple[FundingLine, FundingLine]:
    by_agency = {line.agency.slug: line for line in case.lines}
    return by_agency["region"], by_agency["bpifrance"]


@pytest.fixture
def stage(app, world, create_case, create_user):
    """Dossiers in the states where each form shows: a draft (no de minimis declaration yet, a document),
    one waiting for information, one in review (the Region's line in review, Bpifrance's on its
    committee's agenda, the Region asked its opinion), and one further on (the Region's loan agreed and
    signed, Bpifrance's line rejected); a webhook whose deliveries failed, a deactivated account, an API
    token of each person, a password reset link."""
    from atelier.api.tokens import create_token
    from atelier.auth.operations import password_reset_token
    from atelier.auth.registration import request_registration
    from atelier.models import Document
    from atelier.webhooks.models import WebhookDelivery
    from atelier.webhooks.operations import create_webhook

    folder = app.config["UPLOAD_FOLDER"]
    os.makedirs(folder, exist_ok=True)
    stored_before = set(os.listdir(folder))
    from atelier.webhooks.operations import deactivate_webhook

    create_webhook(world.admin, world.region, url="https://partenaire.example/webhooks/atelier")
    deactivate_webhook(world.admin, create_webhook(world.admin, world.region,
                                                   url="https://partenaire.example/ancien")[0])
    due = paris_today() + timedelta(days=10)
    # The Region's scheme asks questions (none required: the dossiers below are submitted unanswered)
    from atelier.questionnaires import operations as questionnaire_ops
    from atelier.questionnaires.library import seed_standard_questions

    seed_standard_questions()
    questionnaire_ops.add_section(world.admin, world.region_scheme, title="Le projet")
    questionnaire_ops.add_standard_question(world.admin, world.region_scheme, section=0, key="headcount_fte")
    for key, kind, extra in (("exports", "yes_no", {}), ("share", "percentage", {"condition_key": "exports",
                                                                                   "condition_value": "oui"}),
                             ("quote", "document", {"document_kind": "quotes"}),
                             ("investments", "group", {"columns": "*Libellé | text\nMontant | amount"})):
        questionnaire_ops.add_own_question(world.admin, world.region_scheme, section=0, key=key, type=kind,
                                           label=f"Question {key}", **extra)
    questionnaire_ops.publish(world.admin, world.region_scheme)
    draft = ops.create_case(world.applicant, world.company, title="Atelier", description="Une machine.",
                            starts_on=paris_today(), eligible_cost=Decimal("100000"))
    ops.add_line(world.applicant, draft, scheme=world.region_scheme, requested_amount="40000")
    stored = "f" * 32
    with open(os.path.join(folder, stored), "wb") as handle:
        handle.write(b"%PDF-1.4\n%%EOF\n")
    db.session.add(Document(case=draft, kind="other", filename="bilan.pdf", stored_name=stored,
                            content_type="application/pdf", size_bytes=15, uploaded_by=world.applicant))
    incomplete, review, further = create_case("incomplete"), create_case("in_review"), create_case("in_review")
    ops.declare_minimis_aid(world.applicant, incomplete, granted_on=paris_today() - timedelta(days=90),
                            granting_body="Département", amount="5000", regime="de_minimis")
    _, bpi_line = _lines(review)
    ops.ask_opinion(world.bpi_agent, bpi_line, agency=world.region, due_on=due)
    ops.propose_line(world.bpi_agent, bpi_line, meeting=world.bpi_meeting, proposed_amount="30000")
    region_line, bpi_line = _lines(further)
    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, region_line, granted_amount="50000")
    ops.sign_agreement(world.region_agent, region_line, signed_on=paris_today())
    ops.propose_line(world.bpi_agent, bpi_line, meeting=world.bpi_meeting, proposed_amount="30000")
    ops.reject_line(world.bpi_secretary, bpi_line, reason="Fonds propres insuffisants.")
    for number, agency in enumerate((world.region, world.bpi, world.aer)):
        agency.siret = _siret(number)
    for person in (world.applicant, world.region_agent, world.bpi_secretary, world.admin):
        create_token(person, name="Logiciel de gestion", scope="write", days=30)
    create_user("applicant", name="Compte fermé").active = False
    db.session.flush()
    for delivery in db.session.scalars(select(WebhookDelivery)):
        delivery.status = "failed"
    db.session.commit()
    registration = request_registration(email="nouvelle@exemple.fr", name="Nouvelle Porteuse",
                                        password="une phrase de passe")
    extra_pages = [f"/mot-de-passe-oublie/{password_reset_token(world.other_applicant)}",
                   f"/inscription/confirmer/{registration.token}",
                   f"/dispositifs/mon-projet?company={world.company.id}&eligible_cost=100000"
                   f"&starts_on={paris_today().isoformat()}"]
    yield SimpleNamespace(w=world, cases=[draft, incomplete, review, further], extra_pages=extra_pages)
    for name in set(os.listdir(folder)) - stored_before:  # the files the fuzzing managed to upload
        path = os.path.join(folder, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def _siret(number: int) -> str:
    from tests.conftest import make_siret

    return make_siret(700 + number)


def page_urls(app, stage) -> list[str]:
    """Every page of the URL map (not the API), on each dossier of the stage."""
    w = stage.w
    values = {"line_id": stage.cases[2].lines[0].id, "company_id": w.company.id, "agency_id": w.region.id,
              "scheme_id": w.region_scheme.id, "meeting_id": w.region_meeting.id, "code": w.region_scheme.code,
              "user_id": w.other_applicant.id}
    adapter = app.url_map.bind("atelier.test")
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith("api.") or rule.endpoint == "static":
            continue
        for case in (stage.cases if "reference" in rule.arguments else stage.cases[:1]):
            arguments = {**values, "reference": case.reference}
            urls.add(adapter.build(rule.endpoint, {key: arguments.get(key, 1) for key in rule.arguments}))
    return sorted(urls) + stage.extra_pages


def discover_forms(app, client, person, stage) -> dict[str, list[Field]]:
    """action URL -> fields, from every page ``person`` may open."""
    found: dict[str, dict[str, Field]] = {}
    for url in page_urls(app, stage):
        _login(client, person)
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        reader = FormReader()
        reader.feed(response.get_data(as_text=True))
        for action, fields in reader.forms:
            action = urlsplit(action or url).path
            merged = found.setdefault(action, {})
            for name, field in fields.items():
                if name in merged:
                    merged[name].offered.extend(field.offered)
                else:
                    merged[name] = field
    return {action: list(fields.values()) for action, fields in found.items()}


def event_forms_not_shown(stage, forms: dict) -> dict[str, list[Field]]:
    """The event forms of ``event_forms.py`` that no page showed, each once: on the dossier furthest on
    (its Region line agreed and signed) for a line event, on the dossier in review for a case event."""
    shown = {action.rsplit("/", 1)[-1] for action in forms if "/actions/" in action}
    review, further = stage.cases[2], stage.cases[3]
    line = _lines(further)[0]
    added = {}
    for event, form_class in CASE_FORMS.items():
        if event not in shown:
            added[f"/dossiers/{review.reference}/actions/{event}"] = _class_fields(form_class, version=review.version)
    for event, form_class in LINE_FORMS.items():
        if event not in shown:
            added[f"/dossiers/{further.reference}/demandes/{line.id}/actions/{event}"] = _class_fields(
                form_class, version=line.version)
    return added


def _class_fields(form_class, **offered) -> list[Field]:
    form = form_class(formdata=None, meta={"csrf": False})
    return [Field(name=field.name, kind="file" if field.type == "FileField" else "text",
                  offered=[str(offered[field.name])] if field.name in offered else [])
            for field in form]


def _login(client, person) -> None:
    g.pop("_login_user", None)
    if person is None:
        with client.session_transaction() as session:
            session.clear()
    else:
        login(client, person)


# --------------------------------------------------------------------------- the invariant

def assert_consistent(chains: bool = True) -> None:
    """Every dossier's and line's state is that of its last event; nothing half-written remains
    (and, with ``chains``, the audit chains verify)."""
    from atelier.audit import verify_chains
    from atelier.models import AgendaItem, Payment

    db.session.expire_all()
    last_case = {case_id: state for case_id, state in db.session.execute(
        select(Event.case_id, Event.to_state).where(Event.entity == "case", Event.to_state.is_not(None))
        .order_by(Event.id))}
    for case_id, state in db.session.execute(select(Case.id, Case.state)):
        assert last_case.get(case_id) == state, (case_id, state, last_case.get(case_id))
    last_line = {line_id: state for line_id, state in db.session.execute(
        select(Event.line_id, Event.to_state).where(Event.entity == "line", Event.to_state.is_not(None))
        .order_by(Event.id))}
    paid = dict(db.session.execute(select(Payment.line_id, func.sum(Payment.amount)).group_by(Payment.line_id))
                .all())
    for line_id, state, granted in db.session.execute(
            select(FundingLine.id, FundingLine.state, FundingLine.granted_amount)):
        assert last_line.get(line_id, "requested") == state, (line_id, state, last_line.get(line_id))
        assert Decimal(paid.get(line_id) or 0) <= (granted or 0), (line_id, paid.get(line_id), granted)
    on_agenda = set(db.session.scalars(select(FundingLine.id).where(FundingLine.state == "on_agenda")))
    with_item = set(db.session.scalars(select(AgendaItem.line_id).where(AgendaItem.line_id.in_(on_agenda))))
    assert on_agenda <= with_item
    if chains:
        assert not verify_chains()


# --------------------------------------------------------------------------- the property

PEOPLE = {"anonymous": None, "applicant": "applicant", "agent": "region_agent",
          "secretary": "bpi_secretary", "admin": "admin"}


def fuzz(app, client, person, action: str, fields: list[Field]) -> None:
    @FUZZ
    @given(drawn=form_strategy(fields))
    def post_anything(drawn):
        data, files = multidict(fields, drawn)
        _login(client, person)
        try:
            response = client.post(action, data=data,
                                   content_type="multipart/form-data" if files else None)
        except HTTPException:
            raise
        finally:
            g.pop("_login_user", None)
        assert response.status_code < 500, (action, response.status_code)
        if response.mimetype == "text/html" and response.status_code >= 400:
            assert 'lang="fr"' in response.get_data(as_text=True)
        assert_consistent(chains=False)

    post_anything()
    assert_consistent()


FIRST_LAST = ("/deconnexion",)  # the logout ends the session the other forms need: posted last


@pytest.mark.parametrize("role", list(PEOPLE))
def test_no_input_gives_a_500(app, client, stage, role):
    person = getattr(stage.w, PEOPLE[role]) if PEOPLE[role] else None
    forms = discover_forms(app, client, person, stage)
    if role in ("agent", "secretary"):
        forms |= event_forms_not_shown(stage, forms)
    assert forms, "no form found"
    assert_consistent()
    for action in sorted(forms, key=lambda action: (action in FIRST_LAST, action)):
        fuzz(app, client, person, action, forms[action])


def test_every_post_route_of_the_pages_has_a_form_that_is_fuzzed(app, client, stage):
    """A new form on a page is fuzzed by the test above; this says the crawl reaches them all."""
    adapter = app.url_map.bind("atelier.test")
    reached = set()
    for role, key in PEOPLE.items():
        person = getattr(stage.w, key) if key else None
        forms = discover_forms(app, client, person, stage)
        if role in ("agent", "secretary"):
            forms |= event_forms_not_shown(stage, forms)
        for action in forms:
            endpoint, _ = adapter.match(action, method="POST")
            reached.add(endpoint)
    posts = {rule.endpoint for rule in app.url_map.iter_rules()
             if "POST" in rule.methods and not rule.endpoint.startswith("api.")}
    missing = sorted(posts - reached)
    assert not missing, " ".join(missing)


# --------------------------------------------------------------------------- garbage in query strings

QUERY_NAMES = ("page", "q", "state", "scheme", "committee", "agency", "section", "format", "from", "to", "year",
               "next", "comite", "statut", "status", "webhook", "instrument", "role", "company", "eligible_cost")
# Percent-encoded bytes a browser never sends: a UTF-8-encoded lone surrogate (U+D800), an overlong
# NUL, a byte that starts nothing, a code point beyond U+10FFFF, a noncharacter (U+FFFE).
INVALID_UTF8 = ("%ED%A0%80", "%C0%80", "%FF", "%F4%90%80%80", "%EF%BF%BE")


def _query(value: str) -> str:
    return "&".join(f"{name}={value}" for name in QUERY_NAMES)


@pytest.mark.parametrize("role", ["anonymous", "applicant", "agent", "admin"])
def test_no_query_string_gives_a_500(app, client, stage, role):
    """Every page, with every parameter the views read set to bytes no browser sends: never a 500;
    with a NUL anywhere in the query string (value or name), the French page of the input rule."""
    person = getattr(stage.w, PEOPLE[role]) if PEOPLE[role] else None
    for url in page_urls(app, stage):
        path = url.split("?", 1)[0]
        for value in INVALID_UTF8:
            _login(client, person)
            response = client.get(f"{path}?{_query(value)}")
            g.pop("_login_user", None)
            assert response.status_code < 500, (path, value, response.status_code)
        for query in (_query("x%00"), "%00=1", f"page=1&q={'%ED%A0%80' * 50}%00"):
            _login(client, person)
            response = client.get(f"{path}?{query}")
            g.pop("_login_user", None)
            assert response.status_code == 400, (path, query, response.status_code)
            assert 'lang="fr"' in response.get_data(as_text=True) and "caractère nul" in response.get_data(
                as_text=True)
    assert_consistent()
