"""What the help and the docs claim is true: options and variables they name exist, and the
files they cite are in the repository."""

from __future__ import annotations

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
    for command, option in set(re.findall(r"newsdrop (run|rebuild|serve|status|sql|shell|vacuum)\b[^\n`]*?(--[a-z-]+)",
                                          readme)):
        assert option in newsdrop(command, "--help").output, (command, option)
    assert "--timeout" in newsdrop("run", "--help").output


def test_the_files_the_docs_cite_are_in_the_repository() -> None:
    for doc in (ROOT / "docs").glob("*.md"):
        for cited in re.findall(r"`((?:tests|flows|docs|warehouse|transforms|newsdrop|benchmarks)/[\w./-]+\.\w+)`",
                                doc.read_text()):
            assert (ROOT / cited).exists(), (doc.name, cited)
