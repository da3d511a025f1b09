"""Charts drawn on the server as SVG: no JavaScript, no library, readable by screen readers.

A chart is `<svg role="img" aria-labelledby="ID-title ID-desc">` with a `<title>` and a `<desc>`
saying what it shows; every bar has its figure written beside it, so colour and length are never
the only signal. Pages show the same figures as a table too (the dashboard's templates).

The layout stacks each bar under its label, so a narrow screen (375 px) scales the drawing down
without labels running into bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 480
ROW = 44  # label line, then the bar
BAR_HEIGHT = 16
TEXT_ROOM = 110  # right of the longest bar, for its figure
BAR_COLOUR = "#0b5cad"  # vivier.css --accent: 6.9:1 on white
INK = "#1d2433"  # vivier.css --ink


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: no figure (nothing drawn; `text` says why)
    text: str  # the figure as written beside the bar, in the page's language


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """A horizontal bar chart of `bars`, as SVG markup safe to put in a page."""
    largest = max((b.value for b in bars if b.value), default=0) or 1
    height = max(ROW * len(bars), ROW)
    rows = [_row(i, bar, largest) for i, bar in enumerate(bars)]
    ident = escape(chart_id)
    return Markup(
        f'<svg class="chart" id="{ident}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
        f"{''.join(rows)}</svg>"
    )


def _row(index: int, bar: Bar, largest: float) -> str:
    top = index * ROW
    length = 0.0 if not bar.value else max(2.0, (WIDTH - TEXT_ROOM) * bar.value / largest)
    bar_top = top + 20
    figure_y = bar_top + BAR_HEIGHT - 3
    return (
        f'<g class="bar" data-value="{escape(bar.text)}">'
        f'<text x="0" y="{top + 14}" font-size="13" fill="{INK}">{escape(bar.label)}</text>'
        f'<rect x="0" y="{bar_top}" width="{length:.1f}" height="{BAR_HEIGHT}" '
        f'fill="{BAR_COLOUR}"></rect>'
        f'<text x="{length + 6:.1f}" y="{figure_y}" font-size="13" fill="{INK}">'
        f"{escape(bar.text)}</text></g>"
    )
