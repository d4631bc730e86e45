"""The privacy report and the audit's figures: they render results ganguard has written
(`AuditResult`, `UtilityResult`, metrics.jsonl) and compute nothing of their own.

`write_report(run_dirs, out)` gathers each run (`summary.py`), renders the page (`html.py`) and
writes it with a Markdown summary beside it.
"""

from __future__ import annotations

from pathlib import Path

from ganguard.errors import GanguardError
from ganguard.report.html import render_html
from ganguard.report.summary import OVERVIEW_HEAD, overview_rows, summarize_run
from ganguard.runs import write_atomic
from ganguard.tables import markdown


def write_report(
    run_dirs: list[Path] | list[str],
    out: Path | str,
    n_samples: int = 5000,
    n_at_risk: int = 8,
    seed: int = 0,
) -> Path:
    """Write the HTML privacy report of `run_dirs` to `out` and a Markdown summary beside it
    (`out.with_suffix('.md')`); returns `out`. Raises GanguardError, writing nothing, on bad
    input."""
    out = Path(out)
    if not run_dirs:
        raise GanguardError("report: give at least one run directory")
    if out.suffix.lower() == ".md":
        raise GanguardError(f"report: --out {out} would collide with the Markdown summary; "
                            "use an .html name")  # fmt: skip
    if out.is_dir():
        raise GanguardError(f"report: --out {out} is a folder; give a file such as report.html")
    if n_samples < 1 or n_at_risk < 1:
        raise GanguardError("report: n_samples and n_at_risk must be at least 1")
    datasets: dict = {}
    runs = [summarize_run(Path(d), n_samples, n_at_risk, seed, datasets) for d in run_dirs]
    page = render_html(runs)  # everything is computed before anything is written
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GanguardError(f"report: cannot create {out.parent}: {err.strerror or err}") from None
    write_atomic(out, page)
    summary = ["# ganguard privacy report", "", markdown(OVERVIEW_HEAD, overview_rows(runs)), "",
               f"Full report: {out.resolve()}", ""]  # fmt: skip
    write_atomic(out.with_suffix(".md"), "\n".join(summary))
    return out
