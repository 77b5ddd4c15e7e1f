"""The house's rules, held: the groups' imports run one way (cli -> bench -> tools ->
training -> runtime -> graphs and data -> the base), every module is on the map in
docs/architecture.md, no module passes about 400 lines, and one distribution
installs one top-level package."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pytrnn"
# a group may import its own modules and those of lower-ranked groups; graphs and
# data share a rank and know nothing of each other
RANK = {
    "base": 0,
    "graphs": 1,
    "data": 1,
    "runtime": 2,
    "training": 3,
    "tools": 4,
    "compat": 4,
    "bench": 5,
    "cli": 6,
}
MAX_LINES = 400


def modules():
    """{dotted name: path} of every module of the package, the CLI's included:
    ``rglob`` does not follow the ``pytrnn/cli`` link, so cli/ is walked as
    pytrnn.cli itself."""
    out = {}
    roots = [(PKG, ["pytrnn"]), (ROOT / "cli", ["pytrnn", "cli"])]
    for root, prefix in roots:
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = [*prefix, *rel.parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def test_the_checks_see_the_cli():
    """The size, import and docs checks below walk the CLI's files too."""
    mods = modules()
    cli = sorted(m for m in mods if m.startswith("pytrnn.cli"))
    print("cli modules checked:", ", ".join(cli))
    on_disk = {p.stem for p in (ROOT / "cli").glob("*.py")}
    assert {m.rsplit(".", 1)[-1] for m in cli if m != "pytrnn.cli"} | {"__init__"} >= (
        on_disk
    )
    assert "pytrnn.cli.main" in mods and "pytrnn.cli.train" in mods


def group(module: str) -> str | None:
    """The group of a module of the package; None for the package's front door."""
    parts = module.split(".")
    if parts == ["pytrnn"]:
        return None
    return parts[1] if parts[1] in RANK else "base"


def imports(path: Path, module: str):
    """Every pytrnn module ``path`` imports, at the top or inside a function."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            if name == "pytrnn" or name.startswith("pytrnn."):
                yield node.lineno, name


def violations(mods) -> list[str]:
    bad = []
    for module, path in mods.items():
        mine = group(module)
        if mine is None:
            continue
        for line, target in imports(path, module):
            theirs = group(target) if target != "pytrnn" else "base"
            if theirs is None or theirs == mine:
                continue
            if RANK[theirs] >= RANK[mine]:
                where = path.relative_to(ROOT) if ROOT in path.parents else path.name
                bad.append(f"{where}:{line}: {mine} imports {theirs} ({target})")
    return bad


def test_imports_between_groups_run_one_way():
    assert violations(modules()) == []


def test_the_check_catches_an_import_that_runs_back_up(tmp_path, monkeypatch):
    """A graphs module that imports the runtime, or data that imports graphs, is
    named: the rule above can fail."""
    mods = modules()
    fake = tmp_path / "cells.py"
    fake.write_text(
        "from pytrnn.runtime.model import RNN\n"
        "def f():\n    from pytrnn.data.words import bucket\n"
    )
    found = violations(
        {"pytrnn.graphs.cells": fake, "pytrnn.config": mods["pytrnn.config"]}
    )
    assert len(found) == 2 and "graphs imports runtime" in found[0]
    assert "graphs imports data" in found[1]


def test_every_module_is_on_the_map():
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        m
        for m in modules()
        if m != "pytrnn"
        and not re.search(
            r"`" + re.escape(m.split(".", 1)[1].replace(".", "/")) + r"(\.py|/)?`", text
        )
    ]
    assert missing == [], f"docs/architecture.md does not name {missing}"


def test_no_module_passes_about_400_lines():
    long = {
        m: n
        for m, p in modules().items()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_cli_is_inside_the_package():
    """One top-level package: the CLI installs as pytrnn.cli (a link to the
    top-level cli/ folder), and the console script names it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["pytrnn"] == "pytrnn.cli.main:main"
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["pytrnn*"]
    link = PKG / "cli"
    assert link.is_symlink() and link.resolve() == (ROOT / "cli").resolve()


def test_only_the_runtime_asks_which_backend_it_runs():
    """A comparison with a backend's name ("jax" == ...) outside pytrnn.runtime is a
    branch on the backend that belongs in it (its capabilities are declared beside
    the names in config.py and asked through runtime.backends)."""
    asks = re.compile(
        r"""(==|!=)\s*["'](jax|numba|c)["']|["'](jax|numba|c)["']\s*(==|!=)"""
    )
    found = [
        f"{p.relative_to(ROOT)}:{i}"
        for m, p in modules().items()
        if group(m) != "runtime"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if asks.search(line)
    ]
    assert found == []


def test_every_train_option_is_a_config_field_and_back():
    """``pytrnn train`` builds its configs from its options by name
    (config.from_options): an option no config has would be dropped silently, and a
    field with no option could not be set from the command line."""
    import inspect
    from dataclasses import fields

    from pytrnn import RNNConfig, TrainConfig
    from pytrnn.cli.main import NEGATIONS, SOURCE_OPTIONS, WLM_ALIASES, train

    options = {
        p
        for p in inspect.signature(train).parameters
        if p != "ctx" and p not in SOURCE_OPTIONS
    }
    known = {f.name for f in fields(RNNConfig) if f.name != "vocab_size"} | {
        f.name for f in fields(TrainConfig)
    }
    assert options - known == set(WLM_ALIASES) | set(NEGATIONS)
    assert known - options == set()
    assert set(WLM_ALIASES.values()) <= known  # each alias names a field
    assert set(NEGATIONS.values()) <= known  # each --no-X turns a field off


def names_compared(path: Path, names: set) -> list[str]:
    """Each line of ``path`` that compares a value with one of ``names`` (==, !=,
    in, not in), as "file:line name"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        for side in [node.left, *node.comparators]:
            items = (
                side.elts
                if isinstance(side, (ast.Tuple, ast.List, ast.Set))
                else [side]
            )
            for c in items:
                if isinstance(c, ast.Constant) and c.value in names:
                    found.append(f"{path.name}:{node.lineno} {c.value}")
    return found


def test_the_loop_never_asks_what_it_drives(tmp_path):
    """training/loop.py trains chunks and never compares a cell, optimizer,
    softmax, layout or backend name: those choices are made below it (and the
    check finds one when it is written)."""
    from pytrnn.choices import BACKEND_NAMES, CELL_NAMES, LAYOUTS, OPTIMIZERS, SOFTMAXES

    names = {*BACKEND_NAMES, *CELL_NAMES, *LAYOUTS, *OPTIMIZERS, *SOFTMAXES}
    assert names_compared(PKG / "training" / "loop.py", names) == []
    bad = tmp_path / "loop.py"
    bad.write_text(
        'if cfg.cell == "lstm" or cfg.optimizer in ("adam", "sgd"):\n    pass\n'
    )
    assert names_compared(bad, names) == [
        "loop.py:1 lstm",
        "loop.py:1 adam",
        "loop.py:1 sgd",
    ]


def test_one_loop_given_a_batcher_and_a_scorer():
    """Every level and layout trains through the one concrete Loop: no subclass of
    it anywhere in the package, and each of training.run's PREPARE entries hands it
    a batcher and a scorer with the methods it calls."""
    import inspect

    from pytrnn.training import loop, run

    assert loop.Loop.__subclasses__() == []
    for prepare in run.PREPARE.values():
        params = list(inspect.signature(prepare).parameters)
        assert params == ["cfg", "model_cfg", "texts", "resumed", "reporter", "backend"]
    from pytrnn.training.figures import CharFigures, WordFigures
    from pytrnn.training.sentences import Sentences
    from pytrnn.training.windows import Windows

    for batcher in (Windows, Sentences):
        for name in ("order", "chunks", "warm_chunks", "steps", "line"):
            assert callable(getattr(batcher, name)), (batcher, name)
    for figures in (CharFigures, WordFigures):
        for name in ("pass_metrics", "test_metrics", "pass_line", "test_line",
                     "sample", "validates", "has_test"):  # fmt: skip
            assert callable(getattr(figures, name)), (figures, name)
        assert figures.unit and figures.val_key
