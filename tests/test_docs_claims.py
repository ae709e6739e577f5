"""What the help and the docs claim is true: options and variables they name exist, and the
files they cite are in the repository."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from helpers import newsdrop

ROOT = Path(__file__).resolve().parents[1]


def test_the_help_names_the_real_variables() -> None:
    text = newsdrop("--help").output
    assert "NEWSDROP_<OPTION>" not in text
    for variable in ("NEWSDROP_INBOX", "NEWSDROP_DATA", "NEWSDROP_LOCK_WAIT_SECONDS", "NEWSDROP_RUN_TIMEOUT_SECONDS"):
        assert variable in text


def test_every_option_the_readme_shows_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = r"newsdrop (run|rebuild|serve|status|sql|shell|vacuum|search)\b[^\n`]*?(--[a-z-]+)"
    for command, option in set(re.findall(shown, readme)):
        assert option in newsdrop(command, "--help").output, (command, option)
    assert "--timeout" in newsdrop("run", "--help").output


def test_the_files_the_docs_cite_are_in_the_repository() -> None:
    for doc in (ROOT / "docs").glob("*.md"):
        for cited in re.findall(r"`((?:tests|flows|docs|warehouse|transforms|newsdrop|benchmarks)/[\w./-]+\.\w+)`",
                                doc.read_text()):
            assert (ROOT / cited).exists(), (doc.name, cited)


def test_the_architecture_page_names_only_what_exists_and_every_module() -> None:
    """docs/architecture.md: every module, name and setting it gives exists, and every module of
    the code has its row."""
    import importlib

    from newsdrop.settings import Settings

    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([\w/]+\.(?:py|sql))` \| (.*?) \|", page, re.MULTILINE)
    assert len(rows) > 30
    for path, names in rows:
        assert (root / path).is_file(), path
        given = re.findall(r"`(\w+)`", names)
        assert given, path
        if path.endswith(".sql"):
            text = (root / path).read_text(encoding="utf-8")
            assert all(f"VIEW {name} " in text for name in given), (path, given)
            continue
        room, module = path.removesuffix(".py").split("/")
        imported = importlib.import_module(f"newsdrop.{module}" if room == "newsdrop" else f"newsdrop.{room}.{module}")
        assert [name for name in given if not hasattr(imported, name)] == [], path
    documented = {path for path, _names in rows}
    code = {f"{room}/{path.name}" for room in ("newsdrop", "flows", "warehouse", "transforms")
            for path in (root / room).glob("*.py") if path.name not in ("__init__.py", "__main__.py")}
    assert code - documented == set(), "modules without a row in docs/architecture.md"
    (settings_line,) = re.findall(r"Settings a run takes: (.*?)\.\n\n", page, re.DOTALL)
    assert re.findall(r"`(\w+)`", settings_line) == list(Settings.model_fields)


COMMANDS = ("run", "rebuild", "serve", "status", "sql", "shell", "vacuum", "search")


def test_the_help_reads_as_written() -> None:
    """No markup eats a word, no flag shows a type it does not take, usage names arguments plainly."""
    results = {command: newsdrop(command, "--help") for command in COMMANDS}
    results["newsdrop"] = newsdrop("--help")
    assert {command: result.exit_code for command, result in results.items()} == dict.fromkeys(results, 0)
    texts = {command: result.output for command, result in results.items()}
    for command, text in texts.items():
        assert "<bool>" not in text, command
        assert "{" not in text.split("Usage:")[1].splitlines()[0], command
        # A paragraph flows to the terminal's width: no line broken off short in mid-paragraph
        # (the docstrings' own line breaks are not kept).
        described = [line.strip() for line in text.split("Usage:")[1].split("╭")[0].splitlines()[1:]]
        broken = [line for line, after in itertools.pairwise(described) if line and after
                  and len(line) < 50]
        assert broken == [], (command, broken)
    assert 'pip install "newsdrop[shell]"' in texts["shell"]
    assert " sql [OPTIONS] QUERY " in texts["sql"]
    assert "--sample" in texts["run"] and "--max-bytes" in texts["run"] and "--batch-size" in texts["run"]
    assert "--wait" in texts["rebuild"]
