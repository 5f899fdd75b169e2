"""The agents' search: reference, company name, SIRET/SIREN, project words, with the inbox filters,
within what the agent may see; a fixed number of queries; and, on PostgreSQL, the GIN index."""
import html
from contextlib import contextmanager

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy import text as sql

from atelier.extensions import db
from atelier.cases.models import Case
from atelier.companies.models import Company
from atelier.search.queries import CONFIG, case_document, clean, company_document
from conftest import login


def _results(client, **params):
    response = client.get("/organisme/recherche", query_string=params)
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    if 'id="tableau-recherche"' not in page:
        return page, []
    table = page[page.index('id="tableau-recherche"'):]
    table = table[:table.index("</table>")]
    import re
    return page, re.findall(r">(AP-[0-9]{4}-[0-9]{5})</a>", table)


@pytest.fixture
def dossiers(world, create_case, create_company):
    """Three dossiers led by the Region, one only the AER sees."""
    bakery = create_company(members=[world.applicant], name="Boulangerie Pâtissière Martin")
    first = create_case("submitted")  # « Nouvelle ligne de production », world.company
    second = create_case("in_review", company=bakery)
    second.title, second.description = "Four à pain électrique", "Remplacer le vieux four au fioul."
    third = create_case("incomplete", company=bakery)
    third.title = "Machines de conditionnement"
    hidden = create_case("submitted", lines=[(world.aer_scheme, "20000")])
    hidden.title = "Four industriel"
    db.session.commit()
    return first, second, third, hidden


def test_search_by_reference_siret_siren_company_and_words(client, world, dossiers):
    first, second, third, hidden = dossiers
    login(client, world.region_agent)
    assert _results(client, q=first.reference)[1] == [first.reference]
    assert _results(client, q=first.reference.lower())[1] == [first.reference]
    siret = second.company.siret
    assert set(_results(client, q=siret)[1]) == {second.reference, third.reference}
    assert set(_results(client, q=f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}")[1]) == \
        {second.reference, third.reference}
    assert set(_results(client, q=first.company.siren)[1]) == {first.reference}
    assert set(_results(client, q="boulangerie")[1]) == {second.reference, third.reference}
    assert _results(client, q="four")[1] == [second.reference]  # the AER's « Four industriel » is not seen
    assert _results(client, q="four fioul")[1] == [second.reference]  # every word, title or description
    assert _results(client, q="four production")[1] == []
    assert _results(client, q="ligne production")[1] == [first.reference]
    page, found = _results(client, q="introuvable")
    assert found == [] and "Aucun dossier ne correspond à votre recherche." in page
    login(client, world.aer_agent)
    assert _results(client, q="four")[1] == [hidden.reference]


def test_search_is_combined_with_the_filters(client, world, dossiers):
    first, second, third, _ = dossiers
    login(client, world.region_agent)
    assert _results(client, q="boulangerie", state="incomplete")[1] == [third.reference]
    assert set(_results(client, state="submitted")[1]) == {first.reference}
    assert set(_results(client, scheme=world.bpi_scheme.id)[1]) == {first.reference, second.reference,
                                                                    third.reference}
    # unknown filter values are ignored, never an error
    assert set(_results(client, q="boulangerie", state="nimporte", scheme="x")[1]) == {second.reference,
                                                                                       third.reference}


@pytest.mark.parametrize("typed", ["%", "_", "\\", "'; DROP TABLE cases; --", "\x00abc", "a" * 5000, "  ",
                                   "AP-9999-99999", "12345678901234", "é&<script>", "!!! ???", "four:*"])
def test_garbage_is_no_error(client, world, dossiers, typed):
    login(client, world.region_agent)
    response = client.get("/organisme/recherche", query_string={"q": typed, "page": "-3"})
    assert response.status_code == (400 if "\x00" in typed else 200)  # NUL: the input rule (inputs.py)
    assert "é&<script>" not in response.get_data(as_text=True)  # escaped when shown back


def test_clean_removes_control_characters_and_bounds_the_length():
    assert clean("  four\x00 à\tpain \n") == "four à pain"
    assert len(clean("x" * 1000)) == 200
    assert clean(None) == ""


def test_the_page_is_for_agents_only(client, world):
    for person in (world.applicant, world.admin):
        login(client, person)
        assert client.get("/organisme/recherche?q=four").status_code == 404
    assert client.get("/organisme/recherche").status_code in (302, 404)


def test_the_inbox_has_the_search_box(client, world):
    login(client, world.region_agent)
    page = client.get("/organisme/").get_data(as_text=True)
    assert 'action="/organisme/recherche"' in page and 'name="q"' in page


@contextmanager
def counting_queries():
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)


def test_the_results_cost_a_fixed_number_of_queries(client, world, create_case):
    login(client, world.region_agent)
    create_case("submitted")
    db.session.expire_all()
    with counting_queries() as few:
        _results(client, q="production")
    for _ in range(6):
        create_case("in_review")
    db.session.expire_all()
    with counting_queries() as many:
        _, found = _results(client, q="production")
    assert len(found) == 7
    assert len(many) == len(few), "\n\n".join(many)


# --------------------------------------------------------------------------- PostgreSQL

@pytest.mark.postgres
def test_postgresql_search_is_french_and_ignores_accents(client, world, dossiers):
    first, second, third, _ = dossiers
    login(client, world.region_agent)
    # stemming: « machines » finds the title « Machines … » and the description « … une machine … »
    assert set(_results(client, q="machines")[1]) == {first.reference, third.reference}
    assert _results(client, q="electrique")[1] == [second.reference]  # accents ignored
    assert set(_results(client, q="patissiere")[1]) == {second.reference, third.reference}


def _plan(connection, query) -> str:
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + str(compiled)))


@pytest.mark.postgres
def test_postgresql_plan_uses_the_gin_indexes(world):
    """Each side of the word search (the project, the company's name) is answerable by its GIN index.

    Asked of each side alone, with the very expressions the search uses (``case_document``,
    ``company_document``): in the whole query, on the few rows of a test database, the planner may as
    well reach the rows through their primary keys from the agency's cases (seen in CI once)."""
    words = func.plainto_tsquery(CONFIG, "boulangerie four")
    with db.engine.begin() as connection:
        # A tiny table would be scanned anyway: leave the planner the bitmap scans only.
        connection.execute(sql("SET LOCAL enable_seqscan = off"))
        connection.execute(sql("SET LOCAL enable_indexscan = off"))
        projects = _plan(connection, select(Case.id).where(case_document().op("@@")(words)))
        companies = _plan(connection, select(Company.id).where(company_document().op("@@")(words)))
    assert "ix_cases_search_fr" in projects, projects
    assert "ix_companies_search_fr" in companies, companies
