"""The dossier's path, drawn: the diagram is made of the machine's own tables, marks the current state
and the path taken, has a text alternative, and the applicant reads the next step in plain words."""
import html
import re

import pytest

from atelier.cases import operations as ops
from atelier.cases.diagram import (CASE_GRAPH, LINE_GRAPH, NEXT_CASE_STEPS, NEXT_LINE_STEPS, case_path,
                                   layout, line_path, render_svg)
from atelier.cases.models import Event
from atelier.extensions import db
from atelier.workflow import CASE_EVENTS, CASE_STATES, LINE_EVENTS, LINE_STATES
from conftest import login


def _arrows_of(rules):
    return {(source, rule.dest or source, rule.name) for rule in rules for source in rule.sources}


@pytest.mark.parametrize("graph, states, rules", [(CASE_GRAPH, CASE_STATES, CASE_EVENTS),
                                                  (LINE_GRAPH, LINE_STATES, LINE_EVENTS)])
def test_the_graph_is_the_machine_table(graph, states, rules):
    assert graph.states == states
    assert {(a.source, a.dest, a.event) for a in graph.arrows} == _arrows_of(rules)
    assert len(graph.arrows) == len(_arrows_of(rules))  # no arrow twice


@pytest.mark.parametrize("graph, states, rules", [(CASE_GRAPH, CASE_STATES, CASE_EVENTS),
                                                  (LINE_GRAPH, LINE_STATES, LINE_EVENTS)])
def test_the_drawing_has_one_box_per_state_and_one_arrow_per_transition(graph, states, rules):
    from atelier.cases.diagram import Path

    svg = str(render_svg(Path(graph, graph.initial), ident="t", title="Schéma"))
    boxes = re.findall(r'<g class="state[^"]*">', svg)
    assert len(boxes) == len(states)
    drawn = len(re.findall(r'<line [^>]*class="arrow', svg)) + len(re.findall(r'<path d="M[^"]*"[^>]*class="arrow', svg))
    assert drawn == len(_arrows_of(rules))
    for label in states.values():  # every state's label is written (maybe over two lines)
        first_word = label.split()[0]
        assert f">{html.escape(first_word)}" in svg or first_word in svg
    positions = layout(graph)
    assert set(positions) == set(states) and len(set(positions.values())) == len(states)  # no two boxes on one spot


def test_page_marks_the_current_state_and_the_path_taken(client, world, create_case):
    case = create_case("incomplete")
    ops.resubmit_case(world.applicant, case)
    ops.accept_case(world.region_agent, case)
    db.session.commit()
    login(client, world.region_agent)
    page = html.unescape(client.get(f"/dossiers/{case.reference}").get_data(as_text=True))
    assert 'id="parcours"' in page
    case_svg = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="path-diagram"'):]
    case_svg = case_svg[:case_svg.index("</svg>")]
    assert case_svg.count('class="state state-current"') == 1
    current = case_svg[case_svg.index('class="state state-current"'):]
    current = current[:current.index("</g>")]
    assert 'font-weight="700"' in current and "(état actuel)" in current and "instruction" in current
    # four steps taken: submit, request_info, resubmit, accept — numbered 1..4 on thick arrows
    assert case_svg.count("arrow arrow-taken") == 4
    assert re.findall(r'font-weight="700" fill="#fff">([0-9,]+)<', case_svg) == ["1", "2", "3", "4"]
    # not-visited states are dashed, visited ones solid
    assert case_svg.count('class="state state-visited"') == 3  # draft, submitted, incomplete
    # the text alternative lists the steps in order, and what may come next
    steps = page[page.index('id="parcours-dossier-etapes"'):]
    steps = steps[:steps.index("</div>")]
    order = [steps.index(label) for label in ("Déposer le dossier", "Demander des informations",
                                              "Renvoyer le dossier complété", "Déclarer le dossier complet")]
    assert order == sorted(order)
    assert "État actuel : <strong>En instruction</strong>" in steps
    assert "Classer sans suite → Classé sans suite" in steps
    # one diagram per line too, each with its current state
    for line in case.lines:
        assert f'id="parcours-demande-{line.id}-etapes"' in page
    assert page.count('class="state state-current"') == 1 + len(case.lines)
    assert 'aria-describedby="parcours-dossier-etapes"' in page


def test_path_follows_the_events_of_each_line(world, create_case):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="50000")
    ops.adjourn_line(world.region_secretary, region_line, reason="Pièces à revoir.")
    db.session.commit()
    events = db.session.query(Event).filter_by(case_id=case.id).order_by(Event.id).all()
    path = line_path(region_line, events)
    assert [step.event for step in path.steps] == ["start_review", "propose", "adjourn"]
    assert path.current == "under_review"
    assert [step.event for step in line_path(bpi_line, events).steps] == ["start_review"]
    assert [step.event for step in case_path(case, events).steps] == ["submit", "accept"]


def test_every_state_has_a_next_step_in_plain_words():
    assert set(NEXT_CASE_STEPS) == set(CASE_STATES)
    assert set(NEXT_LINE_STEPS) == set(LINE_STATES)


def test_applicant_reads_the_next_step(client, world, create_case):
    case = create_case("submitted")
    login(client, world.applicant)
    page = html.unescape(client.get(f"/dossiers/{case.reference}").get_data(as_text=True))
    assert ("<strong>Prochaine étape :</strong> Région Bourgogne-Franche-Comté vérifie que le dossier est "
            "complet") in page
    assert "Bpifrance Bourgogne-Franche-Comté instruira la demande dès que le dossier sera déclaré complet." in page
    draft = create_case("draft")
    page = html.unescape(client.get(f"/dossiers/{draft.reference}").get_data(as_text=True))
    assert "<strong>Prochaine étape :</strong> Vous complétez le dossier" in page
