"""The dossier's path, drawn: the case machine and each line's machine as inline SVG.

The graphs come from the very tables the code runs on (``workflow.CASE_STATES`` / ``CASE_EVENTS``,
``LINE_STATES`` / ``LINE_EVENTS``): one box per state, one arrow per (source, event) of a rule (an
event that keeps the state, such as ``transfer``, is a loop on its box). The path taken comes from
the dossier's ``Event`` rows, the current state from the instance. Nothing is told by colour alone:
the current state has a thick double outline, bold text and the words « état actuel »; the states
the dossier went through have a solid outline and the others a dashed one; the arrows taken are
thick and numbered in order, the others thin and dashed. Every diagram has a text alternative (the
list of steps) for screen readers and for whoever prefers to read.

(No SVG ``<title>``: a page has exactly one ``<title>``; the SVG is named by ``aria-label``.)

The entrepreneur also sees the plain words of ``NEXT_CASE_STEPS`` / ``NEXT_LINE_STEPS``: what
happens next and who does it.
"""
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from markupsafe import Markup

from ..workflow import (CASE_EVENTS, CASE_FINAL_STATES, CASE_STATES, LINE_EVENTS, LINE_FINAL_STATES,
                        LINE_STATES, EventRule)

CASE_INITIAL = "draft"
LINE_INITIAL = "requested"

WHO_WORDS = {
    "applicant": "vous (le demandeur)",
    "lead_agent": "l'organisme pilote",
    "line_agent": "l'organisme financeur",
    "secretary": "le comité de l'organisme financeur",
    "system": "automatique",
}

# What happens next, in plain words, for the entrepreneur. ``{agency}``: the lead agency (case) or
# the line's agency (line). Every state has its sentence (tests/test_diagram.py checks it).
NEXT_CASE_STEPS = {
    "draft": "vous complétez le dossier (projet, plan de financement, aides de minimis, pièces), "
             "puis vous le déposez.",
    "submitted": "{agency} vérifie que le dossier est complet : il le déclare complet ou vous demande "
                 "des informations.",
    "incomplete": "vous complétez le dossier avec les informations demandées, puis vous le renvoyez. "
                  "Le délai d'instruction est suspendu en attendant.",
    "in_review": "chaque organisme financeur instruit sa demande, puis la présente à son comité, "
                 "qui décide.",
    "closed": "aucune : toutes les demandes du dossier ont reçu leur réponse définitive.",
    "dismissed": "aucune : le dossier a été classé sans suite.",
    "withdrawn": "aucune : vous avez retiré le dossier.",
}
NEXT_LINE_STEPS = {
    "requested": "{agency} instruira la demande dès que le dossier sera déclaré complet.",
    "under_review": "{agency} instruit la demande, puis la présente à son comité de décision.",
    "on_agenda": "le comité de {agency} examine la demande et décide de l'aide.",
    "approved": "{agency} vous adresse la convention à signer.",
    "agreement_signed": "{agency} verse l'aide selon la convention, puis solde la demande.",
    "settled": "aucune : l'aide est soldée.",
    "rejected": "aucune. Vous pouvez former un recours gracieux auprès de {agency}.",
    "withdrawn": "aucune : la demande a été retirée.",
    "dismissed": "aucune : la demande a été classée sans suite.",
}

BOX_WIDTH, BOX_HEIGHT = 170, 50
COLUMN, ROW = 200, 100
MARGIN = 40
LOOP = 22


@dataclass(frozen=True)
class Arrow:
    source: str
    dest: str
    event: str
    label: str


@dataclass
class Graph:
    states: dict[str, str]
    arrows: list[Arrow]
    initial: str
    final: frozenset


def machine_graph(states: dict[str, str], rules: list[EventRule], initial: str, final) -> Graph:
    """One arrow per (source state, event) of the table; an internal event loops on its state."""
    arrows = [Arrow(source, rule.dest or source, rule.name, rule.label)
              for rule in rules for source in rule.sources]
    return Graph(dict(states), arrows, initial, frozenset(final))


CASE_GRAPH = machine_graph(CASE_STATES, CASE_EVENTS, CASE_INITIAL, CASE_FINAL_STATES)
LINE_GRAPH = machine_graph(LINE_STATES, LINE_EVENTS, LINE_INITIAL, LINE_FINAL_STATES)


# --------------------------------------------------------------------------- the path taken

@dataclass
class Step:
    number: int
    event: str
    label: str
    source: str
    dest: str
    when: object  # datetime


@dataclass
class Path:
    graph: Graph
    current: str
    steps: list[Step] = field(default_factory=list)

    @property
    def visited(self) -> set[str]:
        return {self.graph.initial, self.current} | {s.source for s in self.steps} | {s.dest for s in self.steps}

    @property
    def taken(self) -> dict[tuple[str, str, str], list[int]]:
        numbers: dict[tuple[str, str, str], list[int]] = {}
        for step in self.steps:
            numbers.setdefault((step.source, step.dest, step.event), []).append(step.number)
        return numbers

    def next_arrows(self) -> list[Arrow]:
        return [arrow for arrow in self.graph.arrows if arrow.source == self.current]


def path_of(graph: Graph, current: str, events) -> Path:
    """The steps of ``events`` (already those of this case or line, in order) that follow the graph."""
    known = {(arrow.source, arrow.event): arrow for arrow in graph.arrows}
    path = Path(graph, current)
    for event in events:
        arrow = known.get((event.from_state, event.name)) if event.from_state else None
        if arrow is None:
            continue
        path.steps.append(Step(len(path.steps) + 1, event.name, arrow.label, arrow.source,
                               event.to_state or arrow.dest, event.created_at))
    return path


def case_path(case, events) -> Path:
    return path_of(CASE_GRAPH, case.state, [e for e in events if e.entity == "case"])


def line_path(line, events) -> Path:
    return path_of(LINE_GRAPH, line.state, [e for e in events if e.entity == "line" and e.line_id == line.id])


def next_case_step(case) -> str:
    agency = case.lead_agency.name if case.lead_agency is not None else "L'organisme pilote"
    return _capitalised(NEXT_CASE_STEPS[case.state].format(agency=agency))


def next_line_step(line) -> str:
    return _capitalised(NEXT_LINE_STEPS[line.state].format(agency=line.agency.name))


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- layout and drawing

def side_states(graph: Graph) -> list[str]:
    """Final states that many states lead to (withdrawn, dismissed): drawn in a column of their own
    on the right, so that their arrows do not cross the main path."""
    sources: dict[str, set[str]] = {}
    for arrow in graph.arrows:
        if arrow.dest != arrow.source:
            sources.setdefault(arrow.dest, set()).add(arrow.source)
    return [state for state in graph.states if state in graph.final and len(sources.get(state, ())) >= 3]


def layout(graph: Graph) -> dict[str, tuple[int, int]]:
    """Top-down layers: a state's row is its distance from the initial state (breadth first), states
    of one row side by side in the order of the table; the ``side_states`` in a right-hand column,
    each beside the mean row of the states leading to it."""
    side = side_states(graph)
    rank = {graph.initial: 0}
    frontier = [graph.initial]
    while frontier:
        following = []
        for state in frontier:
            for arrow in graph.arrows:
                if arrow.source == state and arrow.dest not in rank and arrow.dest not in side:
                    rank[arrow.dest] = rank[state] + 1
                    following.append(arrow.dest)
        frontier = following
    bottom = max(rank.values(), default=0)
    for state in graph.states:  # unreachable states (none today) go below the rest
        if state not in side:
            rank.setdefault(state, bottom + 1)
    rows: dict[int, list[str]] = {}
    for state in graph.states:
        if state not in side:
            rows.setdefault(rank[state], []).append(state)
    widest = max(len(states) for states in rows.values())
    positions = {}
    for row, states in rows.items():
        offset = (widest - len(states)) * COLUMN / 2
        for index, state in enumerate(states):
            positions[state] = (int(MARGIN + offset + index * COLUMN + BOX_WIDTH / 2),
                                int(MARGIN + row * ROW + BOX_HEIGHT / 2))
    wanted = []
    for state in side:
        leading = [rank[a.source] for a in graph.arrows if a.dest == state and a.source in rank]
        wanted.append((sum(leading) / len(leading) if leading else 0, state))
    previous = None
    for mean, state in sorted(wanted):
        y = MARGIN + mean * ROW + BOX_HEIGHT / 2
        if previous is not None:
            y = max(y, previous + ROW * 0.9)
        previous = y
        positions[state] = (int(MARGIN + widest * COLUMN + COLUMN / 4 + BOX_WIDTH / 2), int(y))
    return positions


def _wrap(text: str, width: int = 22) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines


def _border_point(center, towards) -> tuple[float, float]:
    """Where the segment from ``center`` to ``towards`` leaves the box around ``center``."""
    (x, y), (tx, ty) = center, towards
    dx, dy = tx - x, ty - y
    if dx == 0 and dy == 0:
        return x, y
    scale = min(BOX_WIDTH / 2 / abs(dx) if dx else float("inf"),
                BOX_HEIGHT / 2 / abs(dy) if dy else float("inf"))
    return x + dx * scale, y + dy * scale


def render_svg(path: Path, *, ident: str, title: str) -> Markup:
    """The machine of ``path`` as inline SVG, the path taken and the current state marked."""
    graph = path.graph
    positions = layout(graph)
    visited, taken = path.visited, path.taken
    width = max(x for x, _ in positions.values()) + BOX_WIDTH / 2 + MARGIN
    height = max(y for _, y in positions.values()) + BOX_HEIGHT / 2 + MARGIN
    pairs = {(a.source, a.dest) for a in graph.arrows}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="path-diagram" viewBox="0 0 {int(width)} '
        f'{int(height)}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" '
        f'aria-describedby="{ident}-etapes">',
        '<defs>'
        f'<marker id="{ident}-fleche" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#161616"/></marker>'
        '</defs>',
    ]
    # Arrows first, boxes over them.
    seen_pairs: dict[tuple[str, str], int] = {}
    for arrow in graph.arrows:
        numbers = taken.get((arrow.source, arrow.dest, arrow.event), [])
        style = ('class="arrow arrow-taken" stroke-width="3"' if numbers
                 else 'class="arrow" stroke-width="1" stroke-dasharray="4 3"')
        if arrow.source == arrow.dest:
            x, y = positions[arrow.source]
            top = y - BOX_HEIGHT / 2
            left, right = x + BOX_WIDTH / 2 - 40, x + BOX_WIDTH / 2 - 10
            parts.append(
                f'<path d="M{left},{top} C{left},{top - LOOP} {right},{top - LOOP} {right},{top}" fill="none" '
                f'stroke="#161616" {style} marker-end="url(#{ident}-fleche)"/>')
            if numbers:
                parts.append(_badge(right + 8, top - LOOP / 2, numbers))
            continue
        (sx, sy), (dx, dy) = positions[arrow.source], positions[arrow.dest]
        # Two arrows between the same boxes (one each way, or two events): side by side.
        shift = 0.0
        key = (arrow.source, arrow.dest)
        index = seen_pairs.get(key, 0)
        seen_pairs[key] = index + 1
        if (arrow.dest, arrow.source) in pairs:
            shift += 7
        shift += index * 12
        length = ((dx - sx) ** 2 + (dy - sy) ** 2) ** 0.5 or 1
        nx, ny = -(dy - sy) / length * shift, (dx - sx) / length * shift
        x1, y1 = _border_point((sx, sy), (dx, dy))
        x2, y2 = _border_point((dx, dy), (sx, sy))
        x1, y1, x2, y2 = x1 + nx, y1 + ny, x2 + nx, y2 + ny
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#161616" {style} '
                     f'marker-end="url(#{ident}-fleche)"/>')
        if numbers:
            parts.append(_badge(x1 + (x2 - x1) * 0.35, y1 + (y2 - y1) * 0.35, numbers))
    for state, label in graph.states.items():
        x, y = positions[state]
        current = state == path.current
        box = (f'<rect x="{x - BOX_WIDTH / 2}" y="{y - BOX_HEIGHT / 2}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" '
               f'rx="{14 if state in graph.final else 4}"')
        if current:
            parts.append(f'<g class="state state-current">{box} fill="#fff" stroke="#161616" stroke-width="5"/>'
                         f'<rect x="{x - BOX_WIDTH / 2 + 5}" y="{y - BOX_HEIGHT / 2 + 5}" width="{BOX_WIDTH - 10}" '
                         f'height="{BOX_HEIGHT - 10}" rx="3" fill="none" stroke="#161616" stroke-width="1"/>')
        elif state in visited:
            parts.append(f'<g class="state state-visited">{box} fill="#fff" stroke="#161616" stroke-width="2"/>')
        else:
            parts.append(f'<g class="state">{box} fill="#fff" stroke="#666" stroke-width="1" '
                         'stroke-dasharray="5 3"/>')
        lines = _wrap(label)
        if current:
            lines = lines[:2] + ["(état actuel)"]
        top = y - (len(lines) - 1) * 7
        weight = ' font-weight="700"' if current else ""
        for number, text in enumerate(lines):
            parts.append(f'<text x="{x}" y="{top + number * 14 + 4:.0f}" text-anchor="middle" font-size="12"'
                         f'{weight}>{escape(text)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _badge(x: float, y: float, numbers: list[int]) -> str:
    text = ",".join(str(n) for n in numbers)
    width = 8 + 7 * len(text)
    return (f'<g class="step-number" aria-hidden="true"><rect x="{x - width / 2:.1f}" y="{y - 9:.1f}" '
            f'width="{width}" height="18" rx="9" fill="#161616"/><text x="{x:.1f}" y="{y + 4:.1f}" '
            f'text-anchor="middle" font-size="11" font-weight="700" fill="#fff">{escape(text)}</text></g>')


# --------------------------------------------------------------------------- for the template

@dataclass
class Drawn:
    ident: str
    heading: str
    path: Path
    svg: Markup
    next_step: str
    agency: object = None


def dossier_paths(case, events) -> list[Drawn]:
    """The case's diagram, then one per line, from the events the dossier page already loaded."""
    events = list(events)
    drawn = [Drawn("parcours-dossier", "Le dossier", case_path(case, events), Markup(""),
                   next_case_step(case))]
    for line in case.lines:
        drawn.append(Drawn(f"parcours-demande-{line.id}",
                           f"La demande « {line.scheme.name} » ({line.agency.short_name})",
                           line_path(line, events), Markup(""), next_line_step(line), line.agency))
    for item in drawn:
        item.svg = render_svg(item.path, ident=item.ident,
                              title=f"Schéma des étapes possibles — {item.heading}")
    return drawn
