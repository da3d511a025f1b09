"""Reports as CSV for whoever asks with `Accept: text/csv` (a spreadsheet, a script): the same
rows as the JSON answer, one per item, under a header row, written by the csv module in UTF-8.
JSON stays the default: CSV is chosen only when the Accept header prefers it. Text that a
spreadsheet would run as a formula is prefixed with an apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import Request, Response

CSV = "text/csv"
JSON = "application/json"

# For a route's `responses=`: the OpenAPI document lists the CSV form beside the JSON one.
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report; as CSV (one row per item, a header row, UTF-8) when asked "
        "with `Accept: text/csv`.",
        "content": {CSV: {"schema": {"type": "string"}}},
    }
}


def _preference(accept: str, media_type: str) -> tuple[float, int]:
    """(q, specificity) of the Accept range that best matches `media_type`; (0, -1) if none.
    Specificity: 2 for the exact type, 1 for `type/*`, 0 for `*/*`."""
    kind = media_type.split("/")[0]
    best = (0.0, -1)
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media.lower())
        if specificity is None or specificity < best[1]:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = (q, specificity)
    return best


def wants_csv(request: Request) -> bool:
    """Does the Accept header prefer CSV to JSON? (q-values, then the more specific range;
    a tie, or no Accept header, is JSON.)"""
    accept = request.headers.get("accept", "")
    csv_q = _preference(accept, CSV)
    return csv_q[0] > 0 and csv_q > _preference(accept, JSON)


# A spreadsheet runs a cell starting with one of these as a formula; candidates type their own
# names, so such text gets a leading apostrophe (OWASP's advice against CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], filename: str
) -> Response:
    """A CSV download: a header row of `columns`, then one line per row (None as empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return Response(
        buffer.getvalue().encode("utf-8"),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Vary": "Accept"},
    )
