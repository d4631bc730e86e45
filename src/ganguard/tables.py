"""The one table formatter: numbers to text, and rows to a terminal, Markdown or HTML table.

Every table ganguard prints or writes (the audit and utility tables of the CLI, the demo, the
sweep's results.md, the report) goes through here, so a number reads the same everywhere.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Sequence
from typing import Any

MISSING = "–"


def number(value: Any, digits: int = 3) -> str:
    """A cell's text: floats with `digits` decimals (large ones whole, tiny ones in the
    g format), ints and text as they are, None, NaN and inf as "–"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:.0f}"
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def plus_minus(mean: Any, sd: float | None, digits: int = 3) -> str:
    """`mean ± sd` with both in `digits` decimals (a tiny sd shows as 0, not in the g format);
    the mean alone when there is no sd (one value), "–" without a mean."""
    if number(mean) == MISSING:
        return MISSING
    if sd is None or not math.isfinite(sd):
        return number(mean, digits)
    return f"{number(mean, digits)} ± {sd:.{digits}f}"


def mean_sd(values: Sequence[float | None], digits: int = 3) -> str:
    """`plus_minus` of the mean and sample standard deviation of the values given (None left
    out): one value alone, "–" for none."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return MISSING
    sd = statistics.stdev(present) if len(present) > 1 else None
    return plus_minus(statistics.fmean(present), sd, digits)


def interval(low: Any, high: Any, digits: int = 3) -> str:
    """`[low, high]`, or "–" when either end is missing."""
    if MISSING in (number(low), number(high)):
        return MISSING
    return f"[{number(low, digits)}, {number(high, digits)}]"


def _cells(rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    return [[c if isinstance(c, str) else number(c) for c in row] for row in rows]


def _numeric(cell: str) -> bool:
    try:
        float(cell.replace(" ± ", "").split(" ")[0])
    except ValueError:
        return cell in ("", MISSING)
    return True


def text(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A table for the terminal: columns of numbers right-aligned, the others left-aligned."""
    cells = [list(head), *_cells(rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    right = [all(_numeric(r[i]) for r in cells[1:]) for i in range(len(head))]
    line = lambda r: "  ".join(  # noqa: E731
        c.rjust(w) if flush else c.ljust(w) for c, w, flush in zip(r, widths, right, strict=True)
    ).rstrip()
    return "\n".join([line(cells[0]), "-" * len(line(cells[0])), *map(line, cells[1:])])


def markdown(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    line = lambda cells: "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"  # noqa: E731
    return "\n".join([line(list(head)), "|" + "---|" * len(head), *map(line, _cells(rows))])


def html_table(head: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "",
               raw: bool = False) -> str:  # fmt: skip
    """An HTML table; cells are escaped unless `raw` (cells that already hold markup)."""
    esc = (lambda c: c) if raw else html.escape
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in _cells(rows)
    )
    cls_attr = f' class="{cls}"' if cls else ""
    return f"<table{cls_attr}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
