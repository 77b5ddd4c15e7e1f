"""The docs cannot drift silently: every option of ``pytrnn train`` is in
docs/cli.md, every recipe ``pytrnn recipes`` lists is described where the docs
describe the recipes, and the README's synopsis points at both."""

import re
from pathlib import Path

import typer.main

from pytrnn.cli.main import app
from pytrnn.recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]


def train_flags() -> set[str]:
    """Every visible flag of ``pytrnn train`` (wlm's aliases and the --no-FLAG
    negations are hidden: the help names them once, under --recipe)."""
    command = typer.main.get_command(app).commands["train"]
    return {
        opt
        for p in command.params
        if not getattr(p, "hidden", False)
        for opt in p.opts
        if opt.startswith("--") and opt != "--help"
    }


def test_every_train_option_is_in_the_cli_docs():
    text = (ROOT / "docs" / "cli.md").read_text()
    flags = train_flags()
    assert len(flags) > 60  # the walk sees the options
    missing = sorted(
        f for f in flags if not re.search(re.escape(f) + r"(?![\w-])", text)
    )
    assert missing == [], f"docs/cli.md does not name {missing}"


def test_every_recipe_is_described():
    text = (ROOT / "docs" / "word-level.md").read_text()
    section = text.split("## Recipes and config files", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in RECIPES if f"`{name}`" not in section]
    assert missing == [], f"docs/word-level.md's recipes do not name {missing}"


def test_the_readme_points_at_the_whole_synopsis():
    """The README's train synopsis is short; it says where every option is."""
    readme = (ROOT / "README.md").read_text()
    assert "pytrnn train --help" in readme and "docs/cli.md" in readme
