"""The scheme catalogue: open to everyone, filtered, paginated, a fixed number of queries."""
import html
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event

from atelier.extensions import db
from conftest import login


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@contextmanager
def count_queries():
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_anonymous_browses_the_catalogue_and_a_scheme(client, world):
    response = client.get("/dispositifs/")
    assert response.status_code == 200
    page = text_of(response)
    for scheme in (world.region_scheme, world.bpi_scheme, world.aer_scheme):
        assert scheme.name in page
    assert "Prêt à taux zéro" in page and "Subvention" in page
    response = client.get(f"/dispositifs/{world.region_scheme.code}")
    assert response.status_code == 200


def test_scheme_page_tells_everything(client, world, create_scheme):
    scheme = create_scheme(world.region, committee=world.region_committee, name="Aide à l'export",
                           ceiling=Decimal("123456.78"), max_rate=Decimal("0.405"), regime="gber",
                           required_documents=["kbis", "quotes"], annual_budget=Decimal("2500000"))
    scheme.description = "Premier paragraphe.\n\nSecond <b>paragraphe</b>."
    db.session.commit()
    page = text_of(client.get(f"/dispositifs/{scheme.code}"))
    assert "<title>Aide à l'export — dispositif d'aide — Atelier des projets</title>" in page
    assert "Région Bourgogne-Franche-Comté" in page
    assert "Subvention" in page
    assert "123\u202f456,78\xa0€" in page
    assert "40,5 %" in page
    assert "2\u202f500\u202f000,00\xa0€" in page
    assert "Règlement général d'exemption par catégorie" in page
    assert world.region_committee.name in page
    assert "Ouvert aux demandes" in page
    assert "Extrait Kbis de moins de trois mois" in page and "Devis des dépenses prévues" in page
    assert "Plan d'affaires" not in page
    assert "<p>Premier paragraphe.</p>" in page
    assert "<b>paragraphe</b>" not in response_raw(client, scheme.code)  # escaped


def response_raw(client, code):
    return client.get(f"/dispositifs/{code}").get_data(as_text=True)


@pytest.mark.parametrize("opens_in, closes_in, label", [
    (-10, 10, "Ouvert aux demandes"),
    (-10, None, "Ouvert aux demandes"),
    (-10, 0, "Ouvert aux demandes"),       # the closing day is still open
    (0, 10, "Ouvert aux demandes"),
    (5, 10, "Fermé aux demandes"),
    (-10, -1, "Fermé aux demandes"),
])
def test_open_or_closed_now(client, world, create_scheme, opens_in, closes_in, label):
    scheme = create_scheme(world.bpi, opens_in_days=opens_in, closes_in_days=closes_in)
    db.session.commit()
    page = text_of(client.get(f"/dispositifs/{scheme.code}"))
    assert label in page
    if closes_in is None:
        assert "Sans date de clôture" in page


def test_unknown_scheme_is_404(client, world):
    assert client.get("/dispositifs/N-EXISTE-PAS").status_code == 404


def test_filter_by_agency_and_instrument(client, world):
    page = text_of(client.get("/dispositifs/?agency=bpifrance"))
    assert world.bpi_scheme.name in page
    assert world.region_scheme.name not in page and world.aer_scheme.name not in page
    page = text_of(client.get("/dispositifs/?instrument=repayable_advance"))
    assert world.aer_scheme.name in page
    assert world.bpi_scheme.name not in page and world.region_scheme.name not in page
    page = text_of(client.get("/dispositifs/?agency=bpifrance&instrument=grant"))
    assert "Aucun dispositif ne correspond" in page


def test_unknown_filter_values_are_ignored(client, world):
    response = client.get("/dispositifs/?agency=inconnu&instrument=%3Cscript%3E&page=abc")
    assert response.status_code == 200
    assert world.region_scheme.name in text_of(response)


def test_pagination_keeps_the_filters(app, client, world, create_scheme, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for _ in range(3):
        create_scheme(world.bpi)
    db.session.commit()
    first = client.get("/dispositifs/?agency=bpifrance").get_data(as_text=True)
    assert "Page 1 sur 2" in first
    assert 'href="/dispositifs/?page=2&amp;agency=bpifrance"' in first \
        or 'href="/dispositifs/?agency=bpifrance&amp;page=2"' in first
    second = client.get("/dispositifs/?agency=bpifrance&page=2").get_data(as_text=True)
    assert "Page 2 sur 2" in second


def _catalogue_queries(client, count, world, create_scheme, create_agency) -> int:
    while len(world.created) < count:
        agency = create_agency()
        world.created.append(create_scheme(agency, instrument="honour_loan"))
    db.session.commit()
    with count_queries() as statements:
        response = client.get("/dispositifs/")
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("logged_in", [False, True])
def test_catalogue_query_count_does_not_grow_with_rows(client, world, create_scheme, create_agency,
                                                         logged_in):
    if logged_in:
        login(client, world.applicant)
    world.created = []
    few = _catalogue_queries(client, 5, world, create_scheme, create_agency)
    many = _catalogue_queries(client, 40, world, create_scheme, create_agency)
    assert few == many
    assert few <= 4
