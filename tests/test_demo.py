"""The demo data: loaded once, every state shown, histories that replay, logins that work."""
import os
from collections import defaultdict

import pytest
from sqlalchemy import func, select
from stdnum.fr import siret as stdnum_siret
from werkzeug import security

from atelier import demo
from atelier.auth import models as auth_models
from atelier.auth.operations import authenticate
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import (Agency, AgendaItem, Case, Committee, Company, Document, Event, FundingLine,
                            Meeting, MinimisAid, Opinion, Payment, Scheme, User)
from atelier.schemes.models import INSTRUMENTS
from atelier.workflow import CASE_RULES, CASE_STATES, LINE_RULES, LINE_STATES

from conftest import login


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """scrypt costs a quarter of a second per account: a cheap method keeps these tests fast."""
    original = security.generate_password_hash
    monkeypatch.setattr(auth_models, "generate_password_hash",
                        lambda password, method=None: original(password, method="pbkdf2:sha256:1000"))


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Données de démonstration chargées." in result.output
    db.session.expire_all()


def _counts() -> dict:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Agency, User, Company, Committee, Meeting, Scheme, Case, FundingLine, Event,
                          Opinion, Payment, Document, AgendaItem, MinimisAid)}


def test_a_second_run_does_nothing(seeded, runner):
    before = _counts()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0
    assert "Données de démonstration déjà présentes." in result.output
    assert _counts() == before
    assert demo.load_demo() is False


def test_every_case_state_and_every_line_state_is_shown(seeded):
    case_states = set(db.session.scalars(select(Case.state)))
    line_states = set(db.session.scalars(select(FundingLine.state)))
    assert case_states == set(CASE_STATES)
    assert line_states == set(LINE_STATES)
    assert 18 <= db.session.scalar(select(func.count(Case.id))) <= 25


def _replays(events, rules, first_from, final_state, *, created=False):
    """Each event starts where the previous one ended and is allowed by the machine's table."""
    state = first_from
    for index, event in enumerate(events):
        if created and index == 0:
            assert (event.name, event.from_state, event.to_state) == ("create", None, "draft")
            state = "draft"
            continue
        rule = rules[event.name]
        assert event.from_state == state, (event.name, event.from_state, state)
        assert state in rule.sources, (event.name, state)
        assert event.to_state == (rule.dest or state), (event.name, event.to_state)
        state = event.to_state
    assert state == final_state


def test_every_history_replays_to_the_current_state(seeded):
    by_line, by_case = defaultdict(list), defaultdict(list)
    for event in db.session.scalars(select(Event).order_by(Event.id)):
        if event.entity == "line":
            by_line[event.line_id].append(event)
        elif event.entity == "case":
            by_case[event.case_id].append(event)
        else:
            # opinions and execution reports are recorded beside the machines: they change no state
            assert event.entity in ("opinion", "report")
            assert event.from_state is None and event.to_state is None
    for line in db.session.scalars(select(FundingLine)):
        _replays(by_line[line.id], LINE_RULES, "requested", line.state)
    for case in db.session.scalars(select(Case)):
        _replays(by_case[case.id], CASE_RULES, None, case.state, created=True)
    # automatic steps are the system's, the rest has an author
    for event in db.session.scalars(select(Event)):
        if event.name in ("start_review", "close") or (event.name == "reopen" and event.entity == "case"):
            assert event.actor_id is None
        elif event.actor_id is None:
            assert event.entity == "line" and event.name in ("withdraw", "dismiss")  # cascades


def test_the_story_has_transfers_opinions_decisions_and_payments(seeded):
    names = set(db.session.scalars(select(Event.name)))
    assert {"transfer", "transfer_lead", "request_info", "resubmit", "ask_opinion", "give_opinion", "propose",
            "approve", "reject", "adjourn", "reopen", "sign_agreement", "record_payment", "settle"} <= names
    verdicts = set(db.session.scalars(select(Opinion.verdict)))
    assert {"favourable", "reserved", "unfavourable", None} <= verdicts
    assert db.session.scalar(select(func.sum(Payment.amount))) > 0
    outcomes = set(db.session.scalars(select(AgendaItem.outcome)))
    assert {"pending", "approved", "rejected", "adjourned"} <= outcomes
    gge = db.session.scalars(select(MinimisAid).where(MinimisAid.source == "granted")).all()
    assert gge and all(aid.amount > 0 for aid in gge)


def test_agencies_schemes_committees_and_companies_look_real(seeded):
    names = set(db.session.scalars(select(Agency.name)))
    assert len(names) >= 5
    assert {"Région Bourgogne-Franche-Comté", "Bpifrance Bourgogne-Franche-Comté",
            "CCI Bourgogne-Franche-Comté", "Département de la Côte-d'Or", "Initiative Côte-d'Or"} <= names
    schemes = db.session.scalars(select(Scheme)).all()
    assert len(schemes) >= 6
    assert {scheme.instrument for scheme in schemes} == set(INSTRUMENTS)
    assert {"de_minimis", "de_minimis_agri", "gber", "none"} <= {scheme.regime for scheme in schemes}
    today = paris_today()
    assert all(scheme.is_open_on(today) for scheme in schemes)
    for committee in db.session.scalars(select(Committee)):
        assert any(meeting.meets_on > today for meeting in committee.meetings), committee.name
        secretaries = db.session.scalars(select(User).where(User.agency_id == committee.agency_id,
                                                            User.is_secretary.is_(True))).all()
        assert secretaries, committee.agency.name
    for agency in db.session.scalars(select(Agency)):
        assert db.session.scalar(select(func.count(User.id)).where(User.agency_id == agency.id,
                                                                   User.role == "agent")) >= 1
    companies = db.session.scalars(select(Company)).all()
    assert all(stdnum_siret.is_valid(company.siret) and company.siren == company.siret[:9]
               for company in companies)
    applicants = db.session.scalars(select(User).where(User.role == "applicant")).all()
    assert len(applicants) == 2 and all(applicant.companies for applicant in applicants)
    assert db.session.scalar(select(func.count(User.id)).where(User.role == "admin")) == 1


def test_documents_are_small_pdf_files_in_the_upload_folder(seeded, app):
    documents = db.session.scalars(select(Document)).all()
    assert documents
    for document in documents:
        path = os.path.join(app.config["UPLOAD_FOLDER"], document.stored_name)
        with open(path, "rb") as handle:
            data = handle.read()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        assert len(data) == document.size_bytes and document.content_type == "application/pdf"
    # every submitted dossier has the documents its schemes require
    for case in db.session.scalars(select(Case).where(Case.submitted_at.is_not(None))):
        kinds = {document.kind for document in case.documents}
        for line in case.lines:
            assert set(line.scheme.required_documents) <= kinds, case.reference


def test_every_demo_login_works_with_the_demo_password(seeded):
    accounts = demo.demo_accounts()
    assert len(demo.DEMO_PASSWORD) >= 12
    assert len(accounts) == db.session.scalar(select(func.count(User.id)))
    for email, description in accounts:
        user = authenticate(email, demo.DEMO_PASSWORD)
        assert user.email == email
        assert email.endswith("@demo.atelier.fr") and description
        if email.startswith("secretaire."):
            assert user.is_agent and user.is_secretary and user.agency.name in description
        elif email.startswith("agent."):
            assert user.is_agent and not user.is_secretary and user.agency.name in description
    with pytest.raises(ActionRefused):
        authenticate("porteur@demo.atelier.fr", "pas-le-bon-mot-de-passe")
    expected = {"porteur@demo.atelier.fr", "agent.region@demo.atelier.fr",
                "secretaire.region@demo.atelier.fr", "admin@demo.atelier.fr"}
    assert expected <= {email for email, _ in accounts}


def test_demo_accounts_need_no_database(app):
    accounts = demo.demo_accounts()
    assert ("admin@demo.atelier.fr", "Administratrice de la plateforme (Sophie Lambert)") in accounts
    assert all(isinstance(description, str) and description for _, description in accounts)


def test_the_region_secretary_finds_meetings_agenda_and_workbook(seeded, client):
    secretary = db.session.scalar(select(User).where(User.email == "secretaire.region@demo.atelier.fr"))
    login(client, secretary)
    assert client.get("/comites/").status_code == 200
    meetings = db.session.scalars(select(Meeting).join(Meeting.committee)
                                  .where(Committee.agency_id == secretary.agency_id)).all()
    for meeting in meetings:
        assert client.get(f"/comites/seances/{meeting.id}").status_code == 200
        response = client.get(f"/comites/seances/{meeting.id}/ordre-du-jour.xlsx")
        assert response.status_code == 200
    pending = db.session.scalar(
        select(func.count(AgendaItem.id)).join(AgendaItem.meeting).join(Meeting.committee)
        .where(Committee.agency_id == secretary.agency_id, AgendaItem.outcome == "pending"))
    assert pending >= 1


def test_a_failed_load_leaves_nothing_behind(app, monkeypatch):
    def broken(self):
        raise RuntimeError("panne simulée")

    monkeypatch.setattr(demo._DemoBuilder, "ended_early", broken)
    folder = app.config["UPLOAD_FOLDER"]
    before = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    with pytest.raises(RuntimeError):
        demo.load_demo()
    assert db.session.scalar(select(func.count(User.id))) == 0
    assert db.session.scalar(select(func.count(Case.id))) == 0
    assert set(os.listdir(folder)) == before  # the files written for it are removed too
    assert db.session.scalar(select(func.count(Document.id))) == 0
