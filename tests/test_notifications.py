"""Email notifications: the outbox written with the event, sent by SMTP to a real server (aiosmtpd on
127.0.0.1), preferences, digests, reminders, retries, deactivated people."""
import email
import email.policy
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused, utcnow
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.notifications.models import Notification, NotificationAttempt, NotificationPreference
from atelier.notifications.operations import queue_digests, queue_overdue_reminders, set_preferences
from atelier.notifications.sending import send_due
from conftest import login


class Inbox:
    """What the SMTP server received: (recipients, parsed message)."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address):
        return [message for recipients, message in self.received if address in recipients]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(app, monkeypatch):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    for key, value in {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_USE_TLS": False,
                       "MAIL_USERNAME": None, "NOTIFICATIONS_SEND_AFTER_COMMIT": True}.items():
        monkeypatch.setitem(app.config, key, value)
    yield inbox
    controller.stop()


def _rows(**where):
    query = select(Notification).order_by(Notification.id)
    for key, value in where.items():
        query = query.where(getattr(Notification, key) == value)
    return list(db.session.scalars(query))


def _body(message) -> str:
    return message.get_body(("plain",)).get_content()


# --------------------------------------------------------------------------- sent by SMTP after the commit

def test_a_submitted_dossier_is_mailed_to_the_agents_of_the_lead_agency(world, create_case, smtp):
    case = create_case("submitted")  # Region holds the largest line: it leads
    for agent in (world.region_agent, world.region_secretary):
        [message] = smtp.to(agent.email)
        assert message["Subject"] == (f"Dossier {case.reference} : un dossier arrive dans la corbeille de "
                                      "votre organisme")
        assert message["To"] == agent.email
        assert message["Auto-Submitted"] == "auto-generated"
        body = _body(message)
        assert f"Bonjour {agent.name}" in body
        assert "Un nouveau dossier" in body and "votre organisme le pilote" in body
        assert f"http://atelier.test/dossiers/{case.reference}" in body
    assert not smtp.to(world.bpi_agent.email) and not smtp.to(world.applicant.email)
    rows = _rows(kind="inbox_new")
    assert {row.status for row in rows} == {"sent"} and len(rows) == 2
    assert all(len(row.attempt_log) == 1 and row.attempt_log[0].succeeded for row in rows)


def test_information_requested_is_mailed_to_the_applicant_once(world, create_case, smtp):
    case = create_case("submitted")
    ops.request_info(world.region_agent, case, message="Merci de joindre le Kbis récent.")
    db.session.commit()
    [message] = smtp.to(world.applicant.email)  # not a second email for the message it writes
    assert message["Subject"] == f"Dossier {case.reference} : des informations complémentaires sont demandées"
    body = _body(message)
    assert "vous demande des informations" in body
    assert f"http://atelier.test/dossiers/{case.reference}" in body


def test_each_event_for_the_applicant_is_mailed(world, create_case, smtp):
    case = create_case("in_review")
    line = case.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="55000")
    db.session.commit()
    ops.approve_line(world.region_secretary, line, granted_amount="50000")
    db.session.commit()
    ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
    db.session.commit()
    ops.record_payment(world.region_agent, line, amount="20000", paid_on=paris_today())
    db.session.commit()
    subjects = [message["Subject"].split(" : ", 1)[1] for message in smtp.to(world.applicant.email)]
    assert subjects == ["votre dossier est complet", "une décision a été prise", "la convention est signée",
                        "un versement a été enregistré"]
    decision, payment = _body(smtp.to(world.applicant.email)[1]), _body(smtp.to(world.applicant.email)[3])
    assert "est accordée pour 50\u202f000,00\xa0€" in decision
    assert "20\u202f000,00\xa0€" in payment


def test_a_rejection_is_mailed_without_its_internal_notes(world, create_case, smtp):
    case = create_case("in_review")
    ops.post_message(world.region_agent, case, body="NOTE-SECRETE à ne pas divulguer", internal=True)
    line = case.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="30000")
    ops.reject_line(world.region_secretary, line, reason="Hors des priorités.")
    db.session.commit()
    messages = smtp.to(world.applicant.email)
    assert [m["Subject"].split(" : ", 1)[1] for m in messages] == ["votre dossier est complet",
                                                                    "une décision a été prise"]
    assert "n'est pas retenue" in _body(messages[1])
    for recipients, message in smtp.received:
        assert "NOTE-SECRETE" not in _body(message)
    # The note reached the agents of the other agency holding the dossier, not its author.
    assert _rows(kind="message", user_id=world.bpi_agent.id)
    assert not _rows(kind="message", user_id=world.region_agent.id)
    assert not _rows(kind="message", user_id=world.applicant.id)


def test_agents_are_told_of_transfers_and_opinions(world, create_case, smtp):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.transfer_line(world.region_agent, region_line, agency=world.aer, reason="Plutôt une avance.")
    db.session.commit()
    assert "est confiée à votre organisme" in _body(smtp.to(world.aer_agent.email)[0])
    ops.ask_opinion(world.bpi_agent, bpi_line, agency=world.region, due_on=paris_today() + timedelta(days=9),
                    question="Question interne sur la trésorerie")
    db.session.commit()
    [asked] = [m for m in smtp.to(world.region_secretary.email) if "avis" in m["Subject"]]
    assert asked["Subject"].endswith("l'avis de votre organisme est demandé")
    assert "Question interne" not in _body(asked)
    ops.transfer_lead(world.region_agent, case, agency=world.bpi, reason="Bpifrance pilote.")
    db.session.commit()
    assert any("Le pilotage du dossier" in _body(m) for m in smtp.to(world.bpi_secretary.email))


# --------------------------------------------------------------------------- the outbox follows the transaction

def test_a_rollback_leaves_no_outbox_row(world, create_case, smtp):
    case = create_case("submitted")
    before = db.session.scalar(select(func.count(Notification.id)))
    ops.accept_case(world.region_agent, case)
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(func.count(Notification.id))) == before
    assert not smtp.to(world.applicant.email)


def test_an_event_rolled_back_in_a_savepoint_is_not_notified(world, create_case, smtp):
    case = create_case("submitted")
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            ops.accept_case(world.region_agent, case)
            raise RuntimeError("rolled back")
    ops.post_message(world.region_agent, case, body="Nous regardons votre dossier.")
    db.session.commit()
    assert [row.kind for row in _rows(user_id=world.applicant.id)] == ["message"]


def test_a_refused_operation_over_http_mails_no_one(world, create_case, client, smtp):
    case = create_case("submitted")
    login(client, world.bpi_agent)  # not the lead agency: may not accept
    client.post(f"/dossiers/{case.reference}/evenements/accept")
    assert _rows(kind="case_accepted") == []


# --------------------------------------------------------------------------- people and preferences

def test_a_deactivated_person_is_never_mailed(world, create_case, smtp):
    world.region_secretary.active = False
    db.session.commit()
    create_case("submitted")
    assert smtp.to(world.region_agent.email) and not smtp.to(world.region_secretary.email)
    assert not _rows(user_id=world.region_secretary.id)


def test_a_person_deactivated_before_the_send_is_skipped(world, create_case, smtp, app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", False)
    create_case("submitted")
    world.region_secretary.active = False
    db.session.commit()
    counts = send_due()
    assert counts == {"sent": 1, "retry": 0, "failed": 0, "skipped": 1}
    assert not smtp.to(world.region_secretary.email)


def test_preferences_none_and_digest_are_respected(world, create_case, smtp):
    set_preferences(world.region_agent, {"inbox_new": "none", "opinion_requested": "digest",
                                         "opinion_overdue": "immediate", "message": "digest"})
    set_preferences(world.region_secretary, {"inbox_new": "digest", "opinion_requested": "none",
                                             "opinion_overdue": "none", "message": "none"})
    db.session.commit()
    create_case("submitted")
    assert not smtp.to(world.region_agent.email) and not smtp.to(world.region_secretary.email)
    assert _rows(user_id=world.region_agent.id) == []
    [waiting] = _rows(user_id=world.region_secretary.id)
    assert (waiting.delivery, waiting.status) == ("digest", "pending")


def test_a_mandatory_notification_cannot_be_turned_off(world):
    choices = {"info_requested": "none", "case_accepted": "none", "decision": "digest",
               "agreement_signed": "immediate", "payment_recorded": "immediate", "message": "immediate"}
    with pytest.raises(ActionRefused) as refused:
        set_preferences(world.applicant, choices)
    assert refused.value.field == "info_requested"


def test_the_account_page_saves_the_choices(world, client):
    login(client, world.applicant)
    page = client.get("/compte").get_data(as_text=True)
    assert '<h2 id="notifications">Notifications</h2>' in page
    assert 'name="notifications-decision" required type="radio" value="none"' not in page  # mandatory
    assert 'name="notifications-case_accepted" required type="radio" value="none"' in page
    data = {"notifications-info_requested": "digest", "notifications-case_accepted": "none",
            "notifications-decision": "immediate", "notifications-agreement_signed": "digest",
            "notifications-payment_recorded": "immediate", "notifications-message": "none"}
    response = client.post("/compte/notifications", data=data)
    assert response.status_code == 302 and response.location.endswith("/compte#notifications")
    saved = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.mode)
                                    .where(NotificationPreference.user_id == world.applicant.id)).all())
    assert saved == {key.split("-", 1)[1]: value for key, value in data.items()}
    page = client.get("/compte").get_data(as_text=True)
    assert '<input checked id="notifications-case_accepted-2"' in page
    assert '<input checked id="notifications-info_requested-1"' in page


def test_a_forged_choice_is_refused_beside_its_field(world, client):
    login(client, world.applicant)
    response = client.post("/compte/notifications", data={"notifications-decision": "none"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="notifications-decision-error"' in page and "Le formulaire contient" in page
    assert db.session.scalar(select(func.count(NotificationPreference.id))) == 0


def test_admins_have_no_notification_section(world, client):
    login(client, world.admin)
    assert 'id="notifications"' not in client.get("/compte").get_data(as_text=True)
    assert client.post("/compte/notifications", data={}).status_code == 404


# --------------------------------------------------------------------------- daily: digests and reminders

def test_the_digest_groups_the_day_in_one_email(world, create_case, smtp, runner):
    set_preferences(world.applicant, {"info_requested": "digest", "case_accepted": "digest",
                                      "decision": "digest", "agreement_signed": "digest",
                                      "payment_recorded": "digest", "message": "digest"})
    db.session.commit()
    case = create_case("submitted")
    ops.request_info(world.region_agent, case, message="Il manque le Kbis.")
    db.session.commit()
    ops.post_message(world.region_agent, case, body="Et aussi le bilan.")
    db.session.commit()
    assert not smtp.to(world.applicant.email)
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Récapitulatifs : 1" in result.output
    [digest] = smtp.to(world.applicant.email)
    assert digest["Subject"].startswith("Atelier des projets : votre récapitulatif du ")
    assert digest["Subject"].endswith("(2 notifications)")
    body = _body(digest)
    assert f"Dossier {case.reference} : des informations complémentaires sont demandées" in body
    assert f"Dossier {case.reference} : nouveau message" in body
    assert "http://atelier.test/dossiers/" in body
    assert {row.status for row in _rows(user_id=world.applicant.id, delivery="digest")} == {"digested"}
    runner.invoke(args=["send-reminders"])
    assert len(smtp.to(world.applicant.email)) == 1  # nothing new: no empty digest


def test_an_overdue_opinion_is_reminded_once_a_day(world, create_case, smtp, runner):
    case = create_case("in_review")
    opinion = ops.ask_opinion(world.bpi_agent, case.lines[1], agency=world.aer,
                              due_on=paris_today() + timedelta(days=2))
    db.session.commit()
    assert queue_overdue_reminders() == 0  # not late yet
    opinion.due_on = paris_today() - timedelta(days=3)
    db.session.commit()
    result = runner.invoke(args=["send-reminders"])
    assert "Rappels d'avis en retard : 2" in result.output, result.output
    reminders = [m for m in smtp.to(world.aer_agent.email) if "rappel" in m["Subject"]]
    assert len(reminders) == 1
    assert "était attendu le" in _body(reminders[0]) and "il y a 3 jours" in _body(reminders[0])
    runner.invoke(args=["send-reminders"])
    assert len([m for m in smtp.to(world.aer_agent.email) if "rappel" in m["Subject"]]) == 1
    # Tomorrow, still late: reminded again.
    assert queue_overdue_reminders(paris_today() + timedelta(days=1)) == 2
    # Answered: no more reminders.
    ops.give_opinion(world.aer_agent, opinion, verdict="favourable")
    db.session.commit()
    assert queue_overdue_reminders(paris_today() + timedelta(days=2)) == 0


# --------------------------------------------------------------------------- retries

def test_a_mail_server_down_is_retried_with_backoff_then_given_up(world, create_case, app, monkeypatch, smtp,
                                                                 runner):
    monkeypatch.setitem(app.config, "MAIL_PORT", _free_port())  # nothing listens there
    create_case("submitted")  # the request's attempt after the commit fails: the request goes on
    rows = _rows(kind="inbox_new")
    assert {row.status for row in rows} == {"pending"}
    assert all(row.attempts == 1 and row.attempt_log[0].error for row in rows)
    assert all(row.next_attempt_at > utcnow() + timedelta(seconds=30) for row in rows)
    result = runner.invoke(args=["send-notifications"])
    assert "0 envoyée(s)" in result.output  # not due yet
    monkeypatch.setitem(app.config, "NOTIFICATIONS_MAX_ATTEMPTS", 2)
    assert send_due(now=utcnow() + timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 2, "skipped": 0}
    assert db.session.scalar(select(func.count(NotificationAttempt.id))) == 4


def test_send_notifications_sends_what_was_left_pending(world, create_case, app, monkeypatch, smtp, runner):
    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", False)
    create_case("submitted")
    assert smtp.received == []
    result = runner.invoke(args=["send-notifications"])
    assert result.exit_code == 0 and "2 envoyée(s)" in result.output
    assert len(smtp.received) == 2
    assert runner.invoke(args=["send-notifications"]).output.startswith("Notifications : 0 envoyée(s)")


def test_without_a_mail_server_notifications_are_written_as_files(world, create_case, app, monkeypatch,
                                                                 tmp_path):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path))
    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", True)
    create_case("submitted")
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    assert "corbeille" in email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)["Subject"]
