"""Reading one drop: bytes -> decode -> lines -> sections. Pure, so it can be
re-run on kept bytes (warehouse.rebuild) and gives the same answer every time."""

from __future__ import annotations

from dataclasses import dataclass

from newsdrop.transforms.decode import Decoded, Rejected, decode
from newsdrop.transforms.lines import clean_lines
from newsdrop.transforms.sections import DroppedLine, lay_out

WARNING_NO_HEADLINES = "no_headlines"

# The reading rules' version: raised with every change of what a drop reads as, and kept
# with each drop (drops.rules_version), so that `newsdrop status` can count the drops read
# under older rules, which `newsdrop rebuild` reads again. 1: DROP_FORMAT.md as first
# written (a warehouse from before versions were kept has NULL there); 2: every script's
# sentence ends (§4 revised, issue #18).
RULES_VERSION = 2


@dataclass(frozen=True, slots=True)
class Reading:
    encoding: str
    warnings: tuple[str, ...]
    title: str | None
    paragraphs: tuple[str, ...]
    headlines: tuple[str, ...]
    dropped_lines: tuple[DroppedLine, ...]


def read_text(decoded: Decoded) -> Reading:
    sections = lay_out(clean_lines(decoded.text, decoded.unusual))
    warnings = decoded.warnings if sections.headlines else (*decoded.warnings, WARNING_NO_HEADLINES)
    return Reading(
        encoding=decoded.encoding,
        warnings=warnings,
        title=sections.title,
        paragraphs=sections.paragraphs,
        headlines=sections.headlines,
        dropped_lines=sections.dropped,
    )


def read_drop(raw: bytes) -> Reading | Rejected:
    decoded = decode(raw)
    if isinstance(decoded, Rejected):
        return decoded
    return read_text(decoded)
