"""Access, proved exhaustively: every route of the URL map (endpoint × method: GET, POST, and the
route's own methods) by every kind of person, against the answer written in TABLE below.

The people (ROLES, in this order in every row of the table):

    anon       nobody logged in (pages: 302 to the login page, "L"; API: no token, 401)
    applicant  applicant member of the dossier's company
    other_app  applicant of another company
    agent      agent of the Region: lead agency of the dossier and holder of its Region line
    other_ag   agent of the CCI, which has no part in any dossier
    secretary  committee secretary of Bpifrance, whose committee decides the Bpifrance line
    admin      platform admin

Pages are requested with the person's session, API routes (/api/v1) with a bearer token of the same
person. Forms are posted with CSRF disabled and valid-looking minimal data (or empty, then 422).

An expected answer is a status code, "L" (302 to the login page), or a status followed by "!": the
person sees the thing but may not do that (a French refusal flashed or shown on the page, or a
problem document), and nothing changed. Whenever the answer is 401, 403, 404, 405, "L" or "…!",
the database must be exactly as before (row counts of every table, states and versions).

A route without an entry, or an entry without a route, fails the test: a new route must say here who
may use it.
"""
import io
import os
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask import g
from sqlalchemy import select, text

from atelier.api.tokens import create_token
from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Document, FundingLine
from tests.conftest import login, make_siret

ROLES = ("anon", "applicant", "other_app", "agent", "other_ag", "secretary", "admin")
PDF = b"%PDF-1.4\n%%EOF\n"
WEB_STORED, DELETED_STORED = "c" * 32, "d" * 32

# endpoint -> {method: the answer for every role (one value) or per role (seven values, ROLES order)}
# GET and POST are always listed; 405 is what the routing answers to a method the route does not have.
TABLE: dict[str, dict[str, str]] = {
    # ---------------------------------------------------------------- public pages
    #                                   anon applicant other_app agent other_ag secretary admin
    "static":                      {"GET": "200", "POST": "405"},
    "main.home":                   {"GET": "200 302 302 302 302 302 302", "POST": "405"},
    "main.accessibility":          {"GET": "200", "POST": "405"},
    "schemes.catalogue":           {"GET": "200", "POST": "405"},
    "schemes.show_scheme":         {"GET": "200", "POST": "405"},
    "schemes.eligibility":         {"GET": "L 200 200 404 404 404 404",
                                    "POST": "L 422 422 404 404 404 404"},
    # ---------------------------------------------------------------- accounts
    "auth.login":                  {"GET": "200 302 302 302 302 302 302",
                                    "POST": "422 302 302 302 302 302 302"},
    "auth.register":               {"GET": "200 302 302 302 302 302 302",
                                    "POST": "422 302 302 302 302 302 302"},
    "auth.logout":                 {"GET": "405", "POST": "302"},
    "auth.account":                {"GET": "L 200 200 200 200 200 200", "POST": "405"},
    "auth.change_password_page":   {"GET": "L 200 200 200 200 200 200",
                                    "POST": "L 422 422 422 422 422 422"},
    "auth.forgot_password":        {"GET": "200", "POST": "422"},
    "auth.sessions_page":          {"GET": "L 200 200 200 200 200 200", "POST": "405"},
    # a second session of the applicant: only they may end it; ending one's other sessions is anyone's
    "auth.end_session_page":       {"GET": "405", "POST": "L 302 302! 302! 302! 302! 302!"},
    "auth.end_other_sessions":     {"GET": "405", "POST": "L 302 302 302 302 302 302"},
    # notification choices, posted empty: every kind wants an answer (admins get no notification)
    "notifications.save_preferences": {"GET": "405", "POST": "L 422 422 422 422 422 404"},
    "auth.reset_password_page":    {"GET": "400", "POST": "400"},  # a token that is not one
    "auth.confirm_registration_page": {"GET": "400", "POST": "400"},  # a link that is not one
    "api_tokens.new_token":        {"GET": "L 200 200 200 200 200 200",
                                    "POST": "L 422 422 422 422 422 422"},
    "api_tokens.revoke":           {"GET": "405", "POST": "L 303 404 404 404 404 404"},  # the applicant's
    "notifications.save_preferences": {"GET": "405", "POST": "L 422 422 422 422 422 404"},  # admin: no kinds
    # ---------------------------------------------------------------- the applicant's pages
    "cases.my_cases":              {"GET": "L 200 200 404 404 404 404", "POST": "405"},
    "cases.new_case":              {"GET": "L 200 200 404 404 404 404",
                                    "POST": "L 302 422 404 404 404 404"},  # the company of the applicant
    "companies.my_companies":      {"GET": "L 200 200 404 404 404 404", "POST": "405"},
    "companies.new_company":       {"GET": "L 200 200 404 404 404 404",
                                    "POST": "L 422 422 404 404 404 404"},
    "companies.show_company":      {"GET": "L 200 404 404 404 404 404", "POST": "405"},
    "companies.edit_company":      {"GET": "L 200 404 404 404 404 404",  # nothing posted: saved as it is
                                    "POST": "L 302 404 404 404 404 404"},
    # a dossier waiting for the applicant's information: agencies see it, only the applicant edits it
    "cases.edit_case":             {"GET": "L 200 404 404 404 404 404",
                                    "POST": "L 302 404 404 404 404 404"},
    "cases.add_line":              {"GET": "405", "POST": "L 302 404 404 404 404 404"},
    "cases.remove_line":           {"GET": "405", "POST": "L 302! 404 404 404 404 404"},  # submitted once
    "cases.add_minimis":           {"GET": "405", "POST": "L 302 404 404 404 404 404"},
    "cases.remove_minimis":        {"GET": "405", "POST": "L 302 404 404 404 404 404"},
    "cases.declare_no_minimis":    {"GET": "405", "POST": "L 302 404 404 404 404 404"},
    "cases.upload_document":       {"GET": "405", "POST": "L 422 404 404 404 404 404"},  # no file
    "cases.delete_document":       {"GET": "405", "POST": "L 302 404 404 404 404 404"},
    # the dossier's questionnaires: its applicant, while it is editable (nothing posted: nothing to save)
    "questionnaires.case_answers": {"GET": "L 200 404 404 404 404 404",
                                    "POST": "L 302 404 404 404 404 404"},
    # the full financing plan: its applicant, while the dossier is editable (a balanced plan posted)
    "plans.edit_plan":             {"GET": "L 200 404 404 404 404 404",
                                    "POST": "L 302 404 404 404 404 404"},
    # the execution report waits for a signed agreement: its applicant is told so, nobody else sees it
    "plans.edit_report":           {"GET": "L 302! 404 404 404 404 404",
                                    "POST": "L 302! 404 404 404 404 404"},
    "plans.upload_proof":          {"GET": "405", "POST": "L 302! 404 404 404 404 404"},
    # ---------------------------------------------------------------- the dossier in review
    "cases.show_case":             {"GET": "L 200 404 200 404 200 200", "POST": "405"},
    "cases.download_document":     {"GET": "L 200 404 200 404 200 200", "POST": "405"},
    "cases.confirm_withdraw":      {"GET": "L 200 404 404 404 404 404", "POST": "405"},
    # an attachment of a message that does not exist (ids 1): nobody finds it, nobody is told more
    "notifications.download_attachment": {"GET": "L 404 404 404 404 404 404", "POST": "405"},
    "cases.post_message":          {"GET": "405", "POST": "L 302 404 302 404 302 422!"},
    # the file of the applicant's message: whoever sees the dossier's messages
    "notifications.download_attachment": {"GET": "L 200 404 200 404 200 200", "POST": "405"},
    # dismiss the dossier: the lead agency only
    "case_actions.case_event":     {"GET": "405", "POST": "L 303! 404 303 404 303! 303!"},
    # approve the Bpifrance line on its committee's agenda: Bpifrance's secretary only
    "case_actions.line_event":     {"GET": "405", "POST": "L 303! 404 303! 404 303 303!"},
    # ask the AER's opinion on the Region line: the Region, which holds it
    "case_actions.ask_opinion":    {"GET": "405", "POST": "L 303! 404 303 404 303! 303!"},
    # answer the Region's opinion asked by Bpifrance: the Region
    "case_actions.give_opinion":   {"GET": "405", "POST": "L 303! 404 303 404 303! 303!"},
    # ---------------------------------------------------------------- agencies and committees
    "inbox.inbox":                 {"GET": "L 404 404 200 200 200 404", "POST": "405"},
    "inbox.export_lines":          {"GET": "L 404 404 200 200 200 404", "POST": "405"},
    "inbox.export_opendata":       {"GET": "L 404 404 200 200 200 404", "POST": "405"},
    "search.search":               {"GET": "L 404 404 200 200 200 404", "POST": "405"},
    "dashboards.agency_dashboard_page": {"GET": "L 404 404 200 200 200 404", "POST": "405"},
    "committees.meetings":         {"GET": "L 404 404 200 200 200 404", "POST": "405"},
    "committees.show_meeting":     {"GET": "L 404 404 200 404 404 404", "POST": "405"},  # the Region's
    "committees.agenda_workbook":  {"GET": "L 404 404 200 404 404 404", "POST": "405"},
    "committees.new_meeting":      {"GET": "L 404 404 404 404 200 404",
                                    "POST": "L 404 404 404 404 422 404"},
    # ---------------------------------------------------------------- platform administration
    "admin.dashboard":             {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "admin.agencies":              {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "admin.new_agency":            {"GET": "L 404 404 404 404 404 200", "POST": "L 404 404 404 404 404 422"},
    "admin.edit_agency":           {"GET": "L 404 404 404 404 404 200", "POST": "L 404 404 404 404 404 302"},
    "admin.users":                 {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "admin.new_user":              {"GET": "L 404 404 404 404 404 200", "POST": "L 404 404 404 404 404 422"},
    "admin.deactivate":            {"GET": "405", "POST": "L 404 404 404 404 404 302"},
    "admin.reactivate":            {"GET": "405", "POST": "L 404 404 404 404 404 302"},
    "admin.committees":            {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "admin.new_committee":         {"GET": "L 404 404 404 404 404 200", "POST": "L 404 404 404 404 404 422"},
    "admin.schemes":               {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "admin.new_scheme":            {"GET": "L 404 404 404 404 404 200", "POST": "L 404 404 404 404 404 422"},
    "admin.edit_scheme":           {"GET": "L 404 404 404 404 404 200", "POST": "L 404 404 404 404 404 422"},
    "admin.cases":                 {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    # a scheme's questionnaire (the Region's): admins and the scheme managers of its agency (none here);
    # posted empty: a section or a question without a title or a section, nothing to move or publish
    "questionnaires.managed_schemes":    {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "questionnaires.edit_questionnaire": {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "questionnaires.preview":            {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "questionnaires.add_section":        {"GET": "405", "POST": "L 404 404 404 404 404 422"},
    "questionnaires.add_standard_question": {"GET": "405", "POST": "L 404 404 404 404 404 422"},
    "questionnaires.add_question":       {"GET": "405", "POST": "L 404 404 404 404 404 422"},
    "questionnaires.move_item":          {"GET": "405", "POST": "L 404 404 404 404 404 302!"},
    "questionnaires.remove_item":        {"GET": "405", "POST": "L 404 404 404 404 404 302!"},
    "questionnaires.publish":            {"GET": "405", "POST": "L 404 404 404 404 404 302!"},
    "webhooks.webhooks":           {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "webhooks.new_webhook":        {"GET": "L 404 404 404 404 404 200", "POST": "L 404 404 404 404 404 422"},
    "webhooks.deactivate":         {"GET": "405", "POST": "L 404 404 404 404 404 302"},
    "webhooks.reactivate":         {"GET": "405", "POST": "L 404 404 404 404 404 302"},
    "webhooks.retry_webhook":      {"GET": "405", "POST": "L 404 404 404 404 404 302"},
    "webhooks.delete":             {"GET": "405", "POST": "L 404 404 404 404 404 302"},
    "webhooks.deliveries":         {"GET": "L 404 404 404 404 404 200", "POST": "405"},
    "webhooks.retry":              {"GET": "405", "POST": "L 404 404 404 404 404 302"},
    # ---------------------------------------------------------------- the partner API (bearer token)
    "api.index":                   {"GET": "200", "POST": "405"},
    "api.openapi_document":        {"GET": "200", "POST": "401 405 405 405 405 405 405"},  # POST: the API's
    "api.docs":                    {"GET": "200", "POST": "401 405 405 405 405 405 405"},  # catch-all
    "api.unknown":                 {method: "401 404 404 404 404 404 404"
                                    for method in ("GET", "POST", "PUT", "PATCH", "DELETE")},
    "api.me":                      {"GET": "401 200 200 200 200 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.list_agencies":           {"GET": "401 200 200 200 200 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.list_schemes":            {"GET": "401 200 200 200 200 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.show_scheme":             {"GET": "401 200 200 200 200 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.list_cases":              {"GET": "401 200 200 200 200 200 200"},
    "api.create_case":             {"POST": "401 201 409! 409! 409! 409! 409!"},  # not their company
    "api.show_case":               {"GET": "401 200 404 200 404 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.update_case":             {"PATCH": "401 200 404 409! 404 409! 409!", "POST": "401 405 405 405 405 405 405"},
    # the questionnaires' answers of the applicant's draft (none asked: an empty list replaces nothing)
    "api.replace_answers":         {"PUT": "401 200 404 409! 404 409! 409!", "GET": "401 405 405 405 405 405 405",
                                    "POST": "401 405 405 405 405 405 405"},
    "api.download_document":       {"GET": "401 200 404 200 404 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.case_event":              {"GET": "401 405 405 405 405 405 405", "POST": "401 409! 404 200 404 409! 409!"},
    "api.add_line":                {"GET": "401 405 405 405 405 405 405", "POST": "401 201 404 409! 404 409! 409!"},
    "api.remove_line":             {"GET": "401 405 405 405 405 405 405", "POST": "401 405 405 405 405 405 405",
                                    "DELETE": "401 409! 404 409! 404 409! 409!"},  # submitted once
    "api.declare_minimis_aid":     {"GET": "401 405 405 405 405 405 405",
                                    "POST": "401 201 404 409! 404 409! 409!"},
    "api.declare_no_minimis":      {"GET": "401 405 405 405 405 405 405",
                                    "POST": "401 200 404 409! 404 409! 409!"},
    "api.show_line":               {"GET": "401 200 404 200 404 200 200", "POST": "401 405 405 405 405 405 405"},
    # propose the Region line to the Region's committee: the Region
    "api.line_event":              {"GET": "401 405 405 405 405 405 405", "POST": "401 409! 404 200 404 409! 409!"},
    # ask the CCI's opinion on the Region line: the Region
    "api.ask_opinion":             {"GET": "401 405 405 405 405 405 405", "POST": "401 409! 404 201 404 409! 409!"},
    "api.list_meetings":           {"GET": "401 200 200 200 200 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.show_meeting":            {"GET": "401 404 404 200 404 404 404", "POST": "401 405 405 405 405 405 405"},
    "api.meeting_pack":            {"GET": "401 404 404 200 404 404 404", "POST": "401 405 405 405 405 405 405"},
    "api.list_opinions":           {"GET": "401 200 200 200 200 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.show_opinion":            {"GET": "401 404 404 200 404 200 200", "POST": "401 405 405 405 405 405 405"},
    "api.give_opinion":            {"GET": "401 405 405 405 405 405 405", "POST": "401 404 404 200 404 409! 409!"},
}

# Posted last, in this order: they end the dossier, the person's session, or a thing others use.
LAST = ("api.case_event", "case_actions.case_event", "webhooks.delete", "admin.deactivate", "admin.reactivate",
        "auth.end_other_sessions", "auth.logout")


# --------------------------------------------------------------------------- the scene

@pytest.fixture
def scene(app, world, create_case, create_agency, create_user):
    """A dossier in review (the Region leads it and holds a line; Bpifrance's line is on its committee's
    agenda, the Region was asked its opinion on it), a second one where the Region's opinion is asked
    too, two dossiers waiting for the applicant's information (one for the pages, one for the API),
    documents, a declared de minimis aid, a webhook with deliveries, a token of the applicant."""
    from atelier.webhooks.operations import create_webhook

    webhook, _ = create_webhook(world.admin, world.region, url="https://partenaire.example/webhooks/atelier")
    cci = create_agency("cci", name="CCI Bourgogne-Franche-Comté", short_name="CCI", kind="chamber")
    due = paris_today() + timedelta(days=10)

    case = create_case("in_review")
    region_line, bpi_line = _lines(case)
    api_opinion = ops.ask_opinion(world.bpi_agent, bpi_line, agency=world.region, due_on=due)
    ops.propose_line(world.bpi_agent, bpi_line, meeting=world.bpi_meeting, proposed_amount="30000")
    other = create_case("in_review")
    web_opinion = ops.ask_opinion(world.bpi_agent, _lines(other)[1], agency=world.region, due_on=due)

    editable, api_editable = create_case("incomplete"), create_case("incomplete")
    aid = ops.declare_minimis_aid(world.applicant, editable, granted_on=paris_today() - timedelta(days=90),
                                  granting_body="Département", amount="5000", regime="de_minimis")
    ops.declare_minimis_aid(world.applicant, api_editable, granted_on=paris_today() - timedelta(days=90),
                            granting_body="Département", amount="5000", regime="de_minimis")
    folder = app.config["UPLOAD_FOLDER"]
    os.makedirs(folder, exist_ok=True)
    documents = {}
    for key, owner, stored in (("document", case, WEB_STORED), ("deleted", editable, DELETED_STORED)):
        with open(os.path.join(folder, stored), "wb") as handle:
            handle.write(PDF)
        documents[key] = Document(case=owner, kind="other", filename="bilan.pdf", stored_name=stored,
                                  content_type="application/pdf", size_bytes=len(PDF),
                                  uploaded_by=world.applicant)
        db.session.add(documents[key])
    revoked, _ = create_token(world.applicant, name="À révoquer", scope="read", days=30)
    from atelier.auth.models import UserSession
    from atelier.auth.sessions import hash_key, open_session

    other_session = db.session.scalars(select(UserSession).where(
        UserSession.key_hash == hash_key(open_session(world.applicant, user_agent="Firefox", address="")))).one()
    from atelier.notifications.operations import post_message as post_message_with_file

    class Upload:
        stream, filename = io.BytesIO(PDF), "devis.pdf"

    message = post_message_with_file(world.applicant, case, body="Le devis signé.", attachment=Upload())
    from atelier.notifications.models import MessageAttachment

    attachment = db.session.scalars(select(MessageAttachment).where(MessageAttachment.message_id == message.id)).one()
    people = {"anon": None, "applicant": world.applicant, "other_app": world.other_applicant,
              "agent": world.region_agent, "other_ag": create_user("agent", agency=cci),
              "secretary": world.bpi_secretary, "admin": world.admin}
    db.session.commit()
    from atelier.webhooks.models import WebhookDelivery

    deliveries = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert len({delivery.case_id for delivery in deliveries}) > 1  # the events were queued for the Region
    for delivery in deliveries:  # given up: the admin may send them again
        delivery.status = "failed"
    delivery = deliveries[0]
    for number, agency in enumerate((world.region, world.bpi, cci)):
        agency.siret = make_siret(900 + number)  # needed to publish its grants as open data
    db.session.commit()
    yield SimpleNamespace(w=world, case=case, region_line=region_line, bpi_line=bpi_line, other=other,
                          editable=editable, api_editable=api_editable, aid=aid, cci=cci,
                          web_opinion=web_opinion, api_opinion=api_opinion, webhook=webhook,
                          delivery=delivery, revoked=revoked, people=people, attachment=attachment,
                          other_session=other_session,
                          **documents)
    for stored in (WEB_STORED, DELETED_STORED, attachment.stored_name):
        path = os.path.join(folder, stored)
        if os.path.exists(path):
            os.remove(path)


def _lines(case: Case) -> tuple[FundingLine, FundingLine]:
    """The Region line and the Bpifrance line of a dossier made by ``create_case``."""
    by_agency = {line.agency.slug: line for line in case.lines}
    return by_agency["region"], by_agency["bpifrance"]


def _version(model, id_: int) -> int:
    return db.session.scalar(select(model.version).where(model.id == id_))


def url_values(s) -> dict[str, dict]:
    """The URL arguments of each endpoint that has any (what the table speaks of)."""
    w, ref, eref, aref = s.w, s.case.reference, s.editable.reference, s.api_editable.reference
    return {
        "static": {"filename": "atelier.css"},
        "schemes.show_scheme": {"code": w.region_scheme.code},
        "api.show_scheme": {"code": w.region_scheme.code},
        "auth.reset_password_page": {"token": "pas-un-jeton"},
        "auth.confirm_registration_page": {"token": "pas-un-jeton"},
        "api_tokens.revoke": {"token_id": s.revoked.id},
        "auth.end_session_page": {"session_id": s.other_session.id},
        "inbox.export_opendata": {"year": paris_today().year},
        "companies.show_company": {"company_id": w.company.id},
        "companies.edit_company": {"company_id": w.company.id},
        "cases.edit_case": {"reference": eref},
        "cases.add_line": {"reference": eref},
        "cases.remove_line": {"reference": eref, "line_id": _lines(s.editable)[1].id},
        "cases.add_minimis": {"reference": eref},
        "cases.remove_minimis": {"reference": eref, "aid_id": s.aid.id},
        "cases.declare_no_minimis": {"reference": eref},
        "cases.upload_document": {"reference": eref},
        "cases.delete_document": {"reference": eref, "document_id": s.deleted.id},
        "questionnaires.case_answers": {"reference": eref},
        "plans.edit_plan": {"reference": eref},
        "plans.edit_report": {"reference": eref},
        "plans.upload_proof": {"reference": eref},
        **{f"questionnaires.{name}": {"code": w.region_scheme.code} for name in (
            "edit_questionnaire", "preview", "add_section", "add_standard_question", "add_question", "move_item",
            "remove_item", "publish")},
        "cases.show_case": {"reference": ref},
        "notifications.download_attachment": {"reference": ref, "message_id": 999, "attachment_id": 999},
        "cases.download_document": {"reference": ref, "document_id": s.document.id},
        "cases.confirm_withdraw": {"reference": ref},
        "cases.post_message": {"reference": ref},
        "notifications.download_attachment": {"reference": ref, "message_id": s.attachment.message_id,
                                              "attachment_id": s.attachment.id},
        "case_actions.case_event": {"reference": ref, "event": "dismiss"},
        "case_actions.line_event": {"reference": ref, "line_id": s.bpi_line.id, "event": "approve"},
        "case_actions.ask_opinion": {"reference": ref, "line_id": s.region_line.id},
        "case_actions.give_opinion": {"reference": s.other.reference, "opinion_id": s.web_opinion.id},
        "committees.show_meeting": {"meeting_id": w.region_meeting.id},
        "committees.agenda_workbook": {"meeting_id": w.region_meeting.id},
        "admin.edit_agency": {"agency_id": s.cci.id},
        "admin.edit_scheme": {"scheme_id": w.aer_scheme.id},
        "admin.deactivate": {"user_id": w.other_applicant.id},
        "admin.reactivate": {"user_id": w.other_applicant.id},
        **{f"webhooks.{name}": {"agency_id": w.region.id, "webhook_id": s.webhook.id}
           for name in ("deactivate", "reactivate", "retry_webhook", "delete")},
        "webhooks.webhooks": {"agency_id": w.region.id},
        "webhooks.new_webhook": {"agency_id": w.region.id},
        "webhooks.deliveries": {"agency_id": w.region.id},
        "webhooks.retry": {"agency_id": w.region.id, "delivery_id": s.delivery.id},
        "api.unknown": {"anything": "inconnu"},
        "api.show_case": {"reference": ref},
        "api.update_case": {"reference": aref},
        "api.replace_answers": {"reference": aref},
        "api.download_document": {"reference": ref, "document_id": s.document.id},
        "api.case_event": {"reference": ref},
        "api.add_line": {"reference": aref},
        "api.remove_line": {"reference": aref, "line_id": _lines(s.api_editable)[1].id},
        "api.declare_minimis_aid": {"reference": aref},
        "api.declare_no_minimis": {"reference": aref},
        "api.show_line": {"line_id": s.bpi_line.id},
        "api.line_event": {"line_id": s.region_line.id},
        "api.ask_opinion": {"line_id": s.region_line.id},
        "api.show_meeting": {"meeting_id": w.region_meeting.id},
        "api.meeting_pack": {"meeting_id": w.region_meeting.id},
        "api.show_opinion": {"opinion_id": s.api_opinion.id},
        "api.give_opinion": {"opinion_id": s.api_opinion.id},
    }


def _project(s) -> dict:
    return {"title": "Atelier de découpe laser", "description": "Achat d'une machine de découpe.",
            "starts_on": paris_today().isoformat(), "eligible_cost": "120000"}


def _day(days: int) -> str:
    return (paris_today() + timedelta(days=days)).isoformat()


# Valid-looking minimal data for the forms the table expects to succeed (read when posting: versions
# move); the other forms are posted empty.
POSTED = {
    "cases.new_case": lambda s: {**_project(s), "company": s.w.company.id},
    "cases.edit_case": lambda s: {**_project(s), "version": _version(Case, s.editable.id)},
    "cases.add_line": lambda s: {"line-scheme": s.w.aer_scheme.id, "line-requested_amount": "10000"},
    "cases.add_minimis": lambda s: {"minimis-granted_on": _day(-30), "minimis-amount": "2000",
                                    "minimis-granting_body": "Communauté de communes",
                                    "minimis-regime": "de_minimis"},
    "cases.declare_no_minimis": lambda s: {"nominimis-confirm": "y"},
    "plans.edit_plan": lambda s: {"version": _version(Case, s.editable.id), "expenses-0-category": "tangible",
                                  "expenses-0-label": "Machine", "expenses-0-amount": "250000",
                                  "resources-0-kind": "own_funds", "resources-0-amount": "150000"},
    "cases.post_message": lambda s: {"body": "Bonjour, le bilan 2024 est joint."},
    "case_actions.case_event": lambda s: {"version": _version(Case, s.case.id), "reason": "Hors périmètre."},
    "case_actions.line_event": lambda s: {"version": _version(FundingLine, s.bpi_line.id),
                                          "granted_amount": "30000"},
    "case_actions.ask_opinion": lambda s: {"version": _version(FundingLine, s.region_line.id),
                                           "agency_id": s.w.aer.id, "due_on": _day(7)},
    "case_actions.give_opinion": lambda s: {"verdict": "favourable", "comment": "Projet solide."},
    "api.create_case": lambda s: {**_project(s), "company_id": s.w.company.id},
    "api.update_case": lambda s: {"title": "Atelier de découpe laser et plasma"},
    "api.replace_answers": lambda s: {"answers": []},
    "api.case_event": lambda s: {"event": "request_info", "message": "Joignez le dernier bilan."},
    "api.add_line": lambda s: {"scheme": s.w.aer_scheme.code, "requested_amount": "10000"},
    "api.declare_minimis_aid": lambda s: {"granted_on": _day(-30), "granting_body": "Communauté de communes",
                                          "amount": "2000", "regime": "de_minimis"},
    "api.line_event": lambda s: {"event": "propose", "meeting_id": s.w.region_meeting.id,
                                 "proposed_amount": "50000"},
    "api.ask_opinion": lambda s: {"agency_id": s.cci.id, "due_on": _day(7)},
    "api.give_opinion": lambda s: {"verdict": "reserved", "comment": "Cofinancement à confirmer."},
}


def posted(s, endpoint: str) -> dict:
    return POSTED[endpoint](s) if endpoint in POSTED else {}


# --------------------------------------------------------------------------- checking

_COUNTS = []


def database_snapshot() -> tuple:
    """Row counts of every table (in one statement), and every dossier's and line's state and version."""
    if not _COUNTS:  # written once: compiling forty subqueries each time would be most of the run
        _COUNTS.append(text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{table.name}")'
                                                  for table in db.metadata.sorted_tables)))
    return (tuple(db.session.execute(_COUNTS[0]).one()),
            tuple(db.session.execute(select(Case.id, Case.state, Case.version, Case.lead_agency_id)
                                     .order_by(Case.id))),
            tuple(db.session.execute(select(FundingLine.id, FundingLine.state, FundingLine.version,
                                            FundingLine.agency_id).order_by(FundingLine.id))))


def expected_of(endpoint: str, method: str, role: str) -> str:
    spec = TABLE[endpoint][method].split()
    return spec[0] if len(spec) == 1 else spec[ROLES.index(role)]


def routes_to_check(app) -> list[tuple[str, str]]:
    """(endpoint, method): GET and POST of every endpoint, and each route's own other methods."""
    rules = list(app.url_map.iter_rules())
    pairs = set()
    for rule in rules:
        methods = {"GET", "POST"} | (rule.methods - {"HEAD", "OPTIONS"})
        # a method another route of the same address takes is that route's entry (GET and POST /api/v1/cases)
        methods -= {method for other in rules if other.rule == rule.rule and other is not rule
                    for method in other.methods}
        pairs.update((rule.endpoint, method) for method in methods)
    return sorted(pairs, key=lambda pair: (pair[1] != "GET", pair[0] in LAST,
                                           LAST.index(pair[0]) if pair[0] in LAST else 0, pair))


def test_every_route_has_an_entry_and_every_entry_a_route(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(TABLE) == endpoints
    for endpoint, methods in TABLE.items():
        for method, spec in methods.items():
            assert len(spec.split()) in (1, len(ROLES)), (endpoint, method)
    listed = {(endpoint, method) for endpoint, methods in TABLE.items() for method in methods}
    wanted = set(routes_to_check(app))
    # An API route of GET or POST only answers the other method through the catch-all (as a problem):
    # those are listed too; pages rely on the routing's 405.
    assert wanted <= listed, sorted(wanted - listed)
    assert {(e, m) for e, m in listed if m not in ("GET", "POST")} <= wanted


def _flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return session.pop("_flashes", [])


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role_as_the_table_says(app, scene, role):
    person = scene.people[role]
    web, api = app.test_client(), app.test_client()
    token = None
    if person is not None:
        _, token = create_token(person, name="Tableau des accès", scope="write", days=30)
        db.session.commit()
    values = url_values(scene)
    adapter = app.url_map.bind("atelier.test")
    pairs = [(endpoint, method) for endpoint, methods in TABLE.items() for method in methods]
    pairs.sort(key=lambda pair: (pair[1] != "GET", pair[0] in LAST,
                                 LAST.index(pair[0]) if pair[0] in LAST else 0, pair))
    mismatches = []
    for endpoint, method in pairs:
        expected = expected_of(endpoint, method, role)
        url = adapter.build(endpoint, values.get(endpoint, {}), method=None)
        is_api = endpoint.startswith("api.")
        g.pop("_login_user", None)  # the API's current user of the previous request lives in g
        refused = expected.endswith("!")
        unchanged = refused or expected in ("L", "401", "403", "404", "405")
        if not is_api and person is not None:
            login(web, person)  # again each time: one of the routes is the logout (opens a session record)
        before = database_snapshot() if unchanged else None
        if is_api:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = posted(scene, endpoint) if method != "GET" else None
            response = api.open(url, method=method, json=body, headers=headers)
            flashes = []
        else:
            response = web.open(url, method=method, data=posted(scene, endpoint) if method != "GET" else None)
            flashes = _flashes(web)
        g.pop("_login_user", None)
        db.session.expire_all()
        status = response.status_code
        location = response.headers.get("Location", "")
        got = "L" if status == 302 and "/connexion" in location else str(status)
        errors = [message for category, message in flashes if category == "error"]
        problem = None
        if not refused and got != expected:
            problem = f"{got} {errors[:1]}"
        elif refused and (got != expected[:-1] or (not is_api and status in (302, 303) and not errors)):
            problem = f"{got} refusal expected, flashes {flashes}"
        elif expected.startswith(("2", "3")) and not refused and errors:
            problem = f"{got} but refused: {errors}"
        elif unchanged and database_snapshot() != before:
            problem = f"{got} but the database changed"
        if problem:
            mismatches.append(f"{method} {endpoint} {url}: expected {expected}, got {problem}")
    assert not mismatches, "\n".join(mismatches)
