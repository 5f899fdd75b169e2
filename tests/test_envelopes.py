"""Annual budget envelopes: what is committed on a scheme in a calendar year, the refusal to approve
beyond it without an explicit confirmation, and the figures on the agenda page and the inbox."""
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused, utcnow
from atelier.extensions import db
from atelier.formatting import money, paris_today
from atelier.models import Event
from atelier.schemes.envelopes import envelope_positions
from conftest import login


@pytest.fixture
def put_on_agenda(world):
    """A case in review whose Region line (60 000 €) is proposed at 50 000 € to the Region meeting."""

    def factory(proposed="50000"):
        applicant = world.applicant
        case = ops.create_case(applicant, world.company, title="Nouvelle ligne de production",
                               description="Achat d'une machine.", starts_on=paris_today(),
                               eligible_cost="250000")
        ops.add_line(applicant, case, scheme=world.region_scheme, requested_amount="60000")
        ops.declare_no_minimis(applicant, case)
        ops.submit_case(applicant, case)
        ops.accept_case(world.region_agent, case)
        ops.propose_line(world.region_agent, case.lines[0], meeting=world.region_meeting,
                         proposed_amount=proposed)
        db.session.commit()
        return case.lines[0]

    return factory


def _events(line):
    return db.session.scalar(select(func.count()).select_from(Event).where(Event.line_id == line.id))


def test_committed_counts_this_year_only(world, put_on_agenda):
    this_year, last_year, pending = put_on_agenda(), put_on_agenda(), put_on_agenda()
    ops.approve_line(world.region_secretary, this_year, granted_amount="30000")
    ops.approve_line(world.region_secretary, last_year, granted_amount="20000")
    last_year.decided_at = utcnow().replace(year=utcnow().year - 1)
    db.session.commit()
    year = paris_today().year
    scheme = world.region_scheme
    assert envelope_positions([scheme, world.bpi_scheme], year) == {
        scheme.id: (Decimal("5000000"), Decimal("30000"), Decimal("4970000")),
        world.bpi_scheme.id: (Decimal("5000000"), Decimal("0"), Decimal("5000000"))}
    assert envelope_positions([scheme], year - 1)[scheme.id].committed == Decimal("20000")
    assert pending.state == "on_agenda"


def test_exactly_the_envelope_is_approved(world, put_on_agenda):
    world.region_scheme.annual_budget = Decimal("100000")
    first, second = put_on_agenda(), put_on_agenda()
    ops.approve_line(world.region_secretary, first, granted_amount="50000")
    event = ops.approve_line(world.region_secretary, second, granted_amount="50000")
    db.session.commit()
    assert second.state == "approved" and "over_envelope" not in event.data
    assert envelope_positions([world.region_scheme], paris_today().year)[world.region_scheme.id] == \
        (Decimal("100000"), Decimal("100000"), Decimal("0"))


def test_one_cent_over_is_refused_with_the_figures(world, put_on_agenda):
    world.region_scheme.annual_budget = Decimal("99999.99")
    first, second = put_on_agenda(), put_on_agenda()
    ops.approve_line(world.region_secretary, first, granted_amount="50000")
    db.session.commit()
    events = _events(second)
    with pytest.raises(ActionRefused) as refused:
        ops.approve_line(world.region_secretary, second, granted_amount="50000")
    db.session.rollback()
    assert refused.value.field == "granted_amount"
    message = str(refused.value)
    for figure in ("99999.99", "50000", "50000", "49999.99"):
        assert money(Decimal(figure)) in message
    assert "Enveloppe annuelle" in message
    db.session.expire_all()
    assert second.state == "on_agenda" and second.granted_amount is None and _events(second) == events


def test_confirmed_over_the_envelope_is_approved_and_recorded(world, put_on_agenda):
    world.region_scheme.annual_budget = Decimal("60000")
    first, second = put_on_agenda(), put_on_agenda()
    ops.approve_line(world.region_secretary, first, granted_amount="50000")
    event = ops.approve_line(world.region_secretary, second, granted_amount="40000",
                             over_envelope_confirmed=True)
    db.session.commit()
    assert second.state == "approved" and second.granted_amount == Decimal("40000")
    assert event.data["over_envelope"] is True
    assert (event.data["envelope"], event.data["envelope_committed"], event.data["envelope_remaining"],
            event.data["granted_amount"]) == ("60000.00", "50000.00", "10000.00", "40000.00")


def test_the_agenda_form_refuses_then_confirms(client, world, put_on_agenda):
    world.region_scheme.annual_budget = Decimal("60000")
    first, second = put_on_agenda(), put_on_agenda()
    ops.approve_line(world.region_secretary, first, granted_amount="50000")
    db.session.commit()
    login(client, world.region_secretary)
    url = f"/comites/seances/{world.region_meeting.id}"
    page = unescape(client.get(url).get_data(as_text=True))
    assert "Je confirme l'accord au-delà de l'enveloppe annuelle" in page
    action = f"/dossiers/{second.case.reference}/demandes/{second.id}/actions/approve"
    data = {"version": second.version, "granted_amount": "40000", "next": url}
    response = client.post(action, data=data, follow_redirects=True)
    assert "Enveloppe annuelle" in unescape(response.get_data(as_text=True))
    db.session.expire_all()
    assert second.state == "on_agenda"
    response = client.post(action, data={**data, "over_envelope_confirmed": "y"})
    assert response.status_code == 303
    db.session.expire_all()
    assert second.state == "approved"
    event = db.session.scalars(select(Event).where(Event.line_id == second.id, Event.name == "approve")).one()
    assert event.data["over_envelope"] is True


def test_agenda_page_and_inbox_show_the_envelopes(client, world, put_on_agenda):
    world.region_scheme.annual_budget = Decimal("60000")
    world.region_meeting.meets_on = paris_today()
    first, second = put_on_agenda(), put_on_agenda()
    ops.approve_line(world.region_secretary, first, granted_amount="50000")
    ops.approve_line(world.region_secretary, second, granted_amount="30000", over_envelope_confirmed=True)
    db.session.commit()
    year = paris_today().year
    login(client, world.region_agent)
    for url in (f"/comites/seances/{world.region_meeting.id}", "/organisme/"):
        page = unescape(client.get(url).get_data(as_text=True))
        assert f"Enveloppes {year}" in page, url
        start = page.index(f"Enveloppes {year}")
        section = page[start:page.index("</section>", start)]
        assert "Aide à l'investissement" in section
        assert money(Decimal("60000")) in section and money(Decimal("80000")) in section
        assert f"dépassement de {money(Decimal('20000'))}" in section
        assert "Prêt d'amorçage" not in section  # another agency's scheme
