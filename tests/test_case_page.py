"""THE dossier page, shared by every role that may see the case: what it shows, to whom, the
timeline, messages and internal notes, and its fixed number of queries."""
import html
import io
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import g
from sqlalchemy import event, select

from atelier.cases import documents
from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import money, moment, paris_today
from atelier.models import Event, Message
from conftest import login as conftest_login

PDF = b"%PDF-1.4\n%%EOF\n"


def login(client, user) -> None:
    conftest_login(client, user)
    g.pop("_login_user", None)  # the test's app context is shared: forget the previous person


def page_of(client, case) -> str:
    response = client.get(f"/dossiers/{case.reference}")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


@contextmanager
def counting_queries():
    counted = [0]

    def count(conn, cursor, statement, *args):
        counted[0] += 1
        counted.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


class FakeUpload:
    def __init__(self, content: bytes, filename: str):
        self.stream = io.BytesIO(content)
        self.filename = filename


# --------------------------------------------------------------------------- what the page shows

def test_header_project_and_financing_plan(client, world, create_case):
    case = create_case("in_review")
    region_line = case.lines[0]
    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, region_line, granted_amount="45000")
    ops.sign_agreement(world.region_agent, region_line, signed_on=paris_today())
    ops.record_payment(world.region_agent, region_line, amount="10000", paid_on=paris_today())
    db.session.commit()
    login(client, world.applicant)
    page = page_of(client, case)
    company = world.company
    assert f"<title>Dossier {case.reference} — Atelier des projets</title>" in page
    assert page.count("<h1>") == 1 and f'Dossier <span class="reference">{case.reference}</span> : Nouvelle ligne de production' in page
    assert ">En instruction</span>" in page
    assert company.name in page
    assert f"{company.siret[:3]} {company.siret[3:6]} {company.siret[6:9]} {company.siret[9:]}" in page
    assert company.size_label in page
    assert "Région Bourgogne-Franche-Comté" in page  # the lead agency
    assert "Achat d'une machine et embauche de deux personnes." in page
    assert money(Decimal("250000")) in page
    # each line: scheme, agency, instrument, requested / proposed / granted / paid, state
    for fragment in ("Aide à l'investissement", "Prêt d'amorçage", "Subvention", "Prêt à taux zéro",
                     money(Decimal("60000")), money(Decimal("50000")), money(Decimal("45000")),
                     money(Decimal("10000")), ">Convention signée</span>", ">En instruction</span>"):
        assert fragment in page, fragment


def test_documents_and_declared_minimis_are_listed(client, world, create_case):
    case = create_case("draft")
    ops.declare_minimis_aid(world.applicant, case, granted_on=paris_today() - timedelta(days=30),
                            granting_body="Initiative Côte-d'Or", amount="8000", regime="de_minimis")
    document = documents.add_document(world.applicant, case, "other", FakeUpload(PDF, "Devis été.pdf"))
    db.session.commit()
    login(client, world.applicant)
    page = page_of(client, case)
    assert f'href="/dossiers/{case.reference}/pieces/{document.id}"' in page
    assert "Devis été.pdf" in page
    assert "Initiative Côte-d'Or" in page and money(Decimal("8000")) in page


def test_timeline_labels_people_states_reasons_and_paris_time(client, world, create_case):
    case = create_case("submitted")
    ops.request_info(world.region_agent, case, message="Joignez le plan d'affaires.")
    db.session.commit()
    ops.resubmit_case(world.applicant, case)
    ops.accept_case(world.region_agent, case)
    db.session.commit()
    login(client, world.applicant)
    page = page_of(client, case)
    for label in ("Création du brouillon", "Déposer le dossier", "Demander des informations",
                  "Renvoyer le dossier complété", "Déclarer le dossier complet", "Mettre en instruction"):
        assert label in page, label
    assert "Camille Porteur (demandeur)" in page
    assert f"{world.region_agent.name} (Région)" in page
    assert "Automatique" in page  # start_review of each line, fired by the system
    assert "Déposé → Incomplet — informations demandées" in page
    assert "Demandée → En instruction" in page
    assert "Joignez le plan d'affaires." in page
    assert "Organisme pilote : Région" in page
    first = db.session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id)).first()
    assert moment(first.created_at) in page  # Europe/Paris, French format


def test_opinion_comments_stay_between_agencies(client, world, create_case):
    case = create_case("in_review")
    line = case.lines[0]
    opinion = ops.ask_opinion(world.region_agent, line, agency=world.aer,
                              due_on=paris_today() + timedelta(days=10), question="Question confidentielle ?")
    ops.give_opinion(world.aer_agent, opinion, verdict="unfavourable", comment="Fonds propres trop faibles")
    db.session.commit()
    login(client, world.applicant)
    page = page_of(client, case)
    assert "Avis demandé" in page and "Avis rendu" in page
    assert "Question confidentielle" not in page and "Fonds propres trop faibles" not in page
    login(client, world.region_agent)
    page = page_of(client, case)
    assert "Question confidentielle" in page and "Fonds propres trop faibles" in page
    assert "Avis : Défavorable" in page


# --------------------------------------------------------------------------- who may see it

def test_every_role_that_may_see_the_case_gets_the_page(client, world, create_case, create_agency,
                                                        create_user):
    case = create_case("submitted")
    unrelated = create_user("agent", agency=create_agency("cma"))
    db.session.commit()
    for person in (world.applicant, world.region_agent, world.bpi_agent, world.admin):
        login(client, person)
        assert client.get(f"/dossiers/{case.reference}").status_code == 200
    for person in (world.other_applicant, world.aer_agent, unrelated):
        login(client, person)
        assert client.get(f"/dossiers/{case.reference}").status_code == 404
        assert client.post(f"/dossiers/{case.reference}/messages", data={"body": "Coucou"}).status_code == 404
    assert client.get("/dossiers/AP-1999-99999").status_code == 404
    assert db.session.scalars(select(Message)).all() == []


def test_a_draft_is_not_seen_by_agencies(client, world, create_case):
    case = create_case("draft")
    login(client, world.region_agent)
    assert client.get(f"/dossiers/{case.reference}").status_code == 404


# --------------------------------------------------------------------------- messages and internal notes

def test_internal_notes_are_never_shown_to_the_applicant(client, world, create_case):
    case = create_case("submitted")
    login(client, world.region_agent)
    response = client.post(f"/dossiers/{case.reference}/messages",
                           data={"body": "Note : vérifier le bilan 2023", "internal": "y"})
    assert response.status_code == 302
    client.post(f"/dossiers/{case.reference}/messages", data={"body": "Bonjour, dossier bien reçu."})
    agent_page = page_of(client, case)
    assert "Note interne" in agent_page and "vérifier le bilan 2023" in agent_page
    assert "Messages (2)" in agent_page

    login(client, world.applicant)
    page = page_of(client, case)
    assert "Bonjour, dossier bien reçu." in page
    assert "vérifier le bilan 2023" not in page and "Note interne" not in page and "Note :" not in page
    assert "Messages (1)" in page
    assert 'name="internal"' not in page


def test_an_applicant_cannot_write_an_internal_note(client, world, create_case):
    case = create_case("submitted")
    login(client, world.applicant)
    response = client.post(f"/dossiers/{case.reference}/messages",
                           data={"body": "Voici le Kbis", "internal": "y"})
    assert response.status_code == 302
    message = db.session.scalars(select(Message)).one()
    assert (message.body, message.internal) == ("Voici le Kbis", False)
    login(client, world.bpi_agent)
    assert "<strong>Note interne</strong>" not in page_of(client, case)


@pytest.mark.parametrize("body, expected", [("", "Le message est vide."), ("   ", "Le message est vide."),
                                            ("x" * 10001, "ne peut pas dépasser 10 000 caractères")])
def test_a_bad_message_is_refused_beside_the_field(client, world, create_case, body, expected):
    case = create_case("submitted")
    login(client, world.applicant)
    response = client.post(f"/dossiers/{case.reference}/messages", data={"body": body})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert expected in page.split('<p class="error-message" id="body-error">')[1].split("</p>")[0]
    assert db.session.scalars(select(Message)).all() == []


def test_an_admin_sees_the_page_but_has_no_message_form(client, world, create_case):
    case = create_case("submitted")
    login(client, world.admin)
    page = page_of(client, case)
    assert "/dossiers/" + case.reference + "/messages" not in page


# --------------------------------------------------------------------------- the applicant's panel

def test_applicant_panel_follows_the_state(client, world, create_case):
    login(client, world.applicant)
    draft = create_case("draft")
    page = page_of(client, draft)
    assert f'href="/dossiers/{draft.reference}/modifier"' in page
    assert f'href="/dossiers/{draft.reference}/retrait"' in page
    in_review = create_case("in_review")
    page = page_of(client, in_review)
    assert "/modifier" not in page and f'href="/dossiers/{in_review.reference}/retrait"' in page
    withdrawn = create_case("withdrawn")
    page = page_of(client, withdrawn)
    assert "/modifier" not in page and "/retrait" not in page
    assert ">Retiré par le demandeur</span>" in page


def test_agents_get_no_applicant_panel(client, world, create_case):
    case = create_case("incomplete")
    login(client, world.region_agent)
    page = page_of(client, case)
    assert "/modifier" not in page and "/retrait" not in page
    assert "Déposer le dossier</button>" not in page
    assert "Merci de joindre le Kbis." in page  # the request the agency made is shown to it too


# --------------------------------------------------------------------------- fixed number of queries

def _enrich(world, case, rounds: int):
    for n in range(rounds):
        ops.post_message(world.applicant, case, body=f"Message {n}")
        # a draft takes no agency message: the notes are laid down as data, to weigh on the page
        db.session.add(Message(case=case, author=world.region_agent, agency_id=world.region.id,
                               body=f"Note {n}", internal=True))
        documents.add_document(world.applicant, case, "other", FakeUpload(PDF, f"piece-{n}.pdf"))
        ops.declare_minimis_aid(world.applicant, case, granted_on=paris_today(), granting_body=f"Org {n}",
                                amount="100", regime="de_minimis")
    db.session.commit()


@pytest.mark.parametrize("person", ["applicant", "region_agent"])
def test_the_page_issues_a_fixed_number_of_queries(client, world, create_case, create_scheme, person):
    login(client, getattr(world, person))
    small = create_case("draft")
    extra = [create_scheme(world.aer) for _ in range(3)]
    big = create_case("draft", lines=[(world.region_scheme, "1000"), (world.bpi_scheme, "1000"),
                                      (world.aer_scheme, "1000")] + [(scheme, "1000") for scheme in extra])
    _enrich(world, big, 4)
    for case in (small, big):
        ops.submit_case(world.applicant, case)
        db.session.commit()
        ops.accept_case(world.region_agent, case)  # events for every line
        db.session.commit()
    db.session.expire_all()
    with counting_queries() as few:
        page_of(client, small)
    db.session.expire_all()
    with counting_queries() as many:
        page_of(client, big)
    assert many[0] == few[0], '\n\n'.join(many[1:])
