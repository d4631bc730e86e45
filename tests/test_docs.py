"""The documents a user reads: a README of at most 16 KB whose commands are the ones CI runs,
a configuration page generated from the code and current, a CLI page that names every command
and option, and links that lead somewhere."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         ROOT / "benchmarks" / "README.md"]  # fmt: skip
INSTALL_AND_TEST = 'pip install torch==2.13.0 -e ".[test]" && python -m pytest -q'


def test_the_readme_is_a_users_page_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 16 * 1024
    assert "pip install torch==2.13.0 -e . && ganguard demo" in readme
    assert INSTALL_AND_TEST in readme
    assert INSTALL_AND_TEST in (ROOT / ".ci" / "run").read_text()  # CI runs what the README says


def test_the_configuration_page_is_current() -> None:
    spec = importlib.util.spec_from_file_location("configuration", ROOT / "docs/configuration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PAGE.read_text() == module.render(), "run: python docs/configuration.py"
    assert "`method.critic_batch`" in module.render() and "`train.augment`" in module.render()


def test_the_cli_page_names_every_command_and_option() -> None:
    from ganguard.cli import build_parser

    page = (ROOT / "docs" / "cli.md").read_text()
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():
        assert f"## `ganguard {name}`" in page, name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in page, f"ganguard {name} {flag}"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.*)$", page.read_text(), re.M)
    slug = lambda h: "".join(c for c in h.lower() if c.isalnum() or c in " -_").replace(" ", "-")  # noqa: E731
    return {slug(h.replace("`", "")) for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_somewhere(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name}: {target}"
