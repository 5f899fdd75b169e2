"""Bar charts drawn on the server as inline SVG: no script, no CDN, readable without colour.

Each series has its own black-and-white pattern (plain, hatched, dotted, crossed, outlined) shown
in a legend, and every bar carries its value written beside it, so neither colour nor even the
patterns are needed to read a chart. The page always puts the same numbers in a table next to it.
"""
from xml.sax.saxutils import escape

from markupsafe import Markup

PATTERNS = ("plain", "hatched", "dotted", "crossed", "outlined")
LABEL_WIDTH = 220
VALUE_WIDTH = 200
BAR_HEIGHT = 16
BAR_GAP = 4
GROUP_GAP = 14
CHART_WIDTH = 720


def _attribute(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _defs(ident: str) -> str:
    return (
        "<defs>"
        f'<pattern id="{ident}-hatched" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#161616" stroke-width="3"/></pattern>'
        f'<pattern id="{ident}-dotted" width="5" height="5" patternUnits="userSpaceOnUse">'
        '<rect width="5" height="5" fill="#fff"/><circle cx="2.5" cy="2.5" r="1.4" fill="#161616"/></pattern>'
        f'<pattern id="{ident}-crossed" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="#fff"/><path d="M0,0 L6,6 M6,0 L0,6" stroke="#161616" '
        'stroke-width="1"/></pattern>'
        "</defs>"
    )


def _fill(ident: str, pattern: str) -> str:
    if pattern == "plain":
        return 'fill="#3a3a3a"'
    if pattern == "outlined":
        return 'fill="#fff"'
    return f'fill="url(#{ident}-{pattern})"'


def _truncate(text: str, length: int = 30) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def bar_chart(ident: str, title: str, groups, series, fmt) -> Markup:
    """Horizontal bars: ``groups`` is ``[(label, [value per series])]`` (a value may be None: no bar,
    « — » written), ``series`` the names of the series, ``fmt`` formats a value for its label."""
    numbers = [value for _, values in groups for value in values if value is not None]
    top = max(numbers, default=0) or 1
    scale = (CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH) / float(top)
    legend_height = 24 if len(series) > 1 else 0
    group_height = len(series) * (BAR_HEIGHT + BAR_GAP) + GROUP_GAP
    height = legend_height + max(1, len(groups)) * group_height + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {CHART_WIDTH} {height}" '
             f'role="img" aria-label="{_attribute(title)} (les chiffres sont dans le tableau qui suit)">',
             _defs(ident)]
    if len(series) > 1:
        x = LABEL_WIDTH
        for index, name in enumerate(series):
            pattern = PATTERNS[index % len(PATTERNS)]
            parts.append(f'<rect x="{x}" y="4" width="14" height="14" {_fill(ident, pattern)} stroke="#161616"/>'
                         f'<text x="{x + 18}" y="16" font-size="12">{escape(name)}</text>')
            x += 34 + 8 * len(name)
    if not groups:
        parts.append(f'<text x="10" y="{legend_height + 20}" font-size="12">Aucune donnée.</text>')
    for row, (label, values) in enumerate(groups):
        y0 = legend_height + row * group_height
        middle = y0 + len(series) * (BAR_HEIGHT + BAR_GAP) / 2
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{middle + 4:.0f}" text-anchor="end" font-size="12">'
                     f'{escape(_truncate(str(label)))}</text>')
        for index, value in enumerate(values):
            y = y0 + index * (BAR_HEIGHT + BAR_GAP)
            pattern = PATTERNS[index % len(PATTERNS)]
            width = 0 if value is None else max(1.0, float(value) * scale) if value else 0
            if width:
                parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                             f'{_fill(ident, pattern)} stroke="#161616" stroke-width="1"/>')
            text = "—" if value is None else fmt(value)
            prefix = f"{series[index]} : " if len(series) > 1 else ""
            parts.append(f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + BAR_HEIGHT - 4}" font-size="11">'
                         f'{escape(prefix + text)}</text>')
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="{legend_height}" x2="{LABEL_WIDTH}" y2="{height - 6}" '
                 'stroke="#161616"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
