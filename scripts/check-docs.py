#!/usr/bin/env python3
"""Checks README.md and docs/*.md: tables render, relative links (and their
#anchors) resolve, the README stays short, and no text talks about how the
work was organised.

Usage: scripts/check-docs.py [--allow-missing PATH ...]

PATH is relative to the repository root (e.g. docs/ARCHITECTURE.md): a link
to it is accepted while the file does not exist yet.
Prints `file:line: message` for each problem and exits 1, or prints
`docs: N files checked, ok`.
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250

FENCE = re.compile(r"^\s*(```|~~~)")
SEPARATOR_CELL = re.compile(r"^:?-+:?$")
# [text](target) and ![alt](target); the target ends at whitespace or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`+[^`]*`+")
WORK_TALK = [
    (re.compile(r"[Ss]ession [0-9]"), "numbered work session"),
    (re.compile(r"\bthis session\b", re.IGNORECASE), "'this session'"),
    (re.compile(r"\bnext session\b", re.IGNORECASE), "'next session'"),
]


def cells(row: str) -> list[str]:
    """The cells of a table row; `\\|` is text, not a separator."""
    text = row.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    parts, current, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] == "|":
            current += "\\|"
            i += 2
            continue
        if text[i] == "|":
            parts.append(current.strip())
            current = ""
        else:
            current += text[i]
        i += 1
    parts.append(current.strip())
    return parts


def is_separator(row: str) -> bool:
    return all(SEPARATOR_CELL.match(c) for c in cells(row))


def is_table_line(line: str) -> bool:
    return line.lstrip().startswith("|")


def prose_lines(lines):
    """(number, line) of the lines outside fenced code blocks."""
    in_fence = False
    for number, line in enumerate(lines, 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, line


def check_tables(name, lines, problems):
    width = None  # cell count of the table being read, if any
    last_width = None  # of the table that ended last
    blank_after_table = False  # the previous line is a blank one right after a table row
    pending = None  # (number, cells, splits_a_table) of a row that needs a separator next
    for number, line in prose_lines(lines):
        if pending is not None:
            header_number, header_cells, splits = pending
            pending = None
            if is_table_line(line) and is_separator(line):
                if len(cells(line)) != header_cells:
                    problems.append(
                        f"{name}:{number}: separator has {len(cells(line))} cells, "
                        f"the header {header_cells}"
                    )
                width = header_cells
                continue
            if splits:
                problems.append(
                    f"{name}:{header_number - 1}: blank line inside a table "
                    "(the rows after it do not render as part of it)"
                )
                width = last_width
            else:
                problems.append(
                    f"{name}:{header_number}: table header without a separator row after it"
                )
        if is_table_line(line):
            if width is not None:
                count = len(cells(line))
                if count != width:
                    problems.append(f"{name}:{number}: row has {count} cells, the header {width}")
            else:
                # A row after a blank line that follows a table: a new table
                # if a separator follows, else the old one split in two.
                pending = (number, len(cells(line)), blank_after_table)
            blank_after_table = False
            continue
        blank_after_table = width is not None and line.strip() == ""
        if width is not None:
            last_width = width
        width = None
    if pending is not None:
        header_number, _, splits = pending
        if splits:
            problems.append(f"{name}:{header_number - 1}: blank line inside a table")
        else:
            problems.append(
                f"{name}:{header_number}: table header without a separator row after it"
            )


def anchors(path):
    """The anchors GitHub makes of a Markdown file's headings."""
    seen, result = {}, set()
    lines = path.read_text(encoding="utf-8").splitlines()
    for _, line in prose_lines(lines):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def check_links(path, name, lines, allowed_missing, problems):
    for number, line in prose_lines(lines):
        text = CODE_SPAN.sub("", line)
        for match in LINK.finditer(text):
            target = match.group(1)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue
            file_part, _, fragment = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            if resolved.exists():
                if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                    problems.append(f"{name}:{number}: no heading for the anchor: {target}")
                continue
            try:
                relative = resolved.relative_to(ROOT).as_posix()
            except ValueError:
                relative = str(resolved)
            if relative in allowed_missing:
                continue
            problems.append(f"{name}:{number}: link to a missing file: {target}")


def check_work_talk(name, lines, problems):
    for number, line in enumerate(lines, 1):
        for pattern, what in WORK_TALK:
            if pattern.search(line):
                problems.append(
                    f"{name}:{number}: talks about the work, not the project ({what})"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--allow-missing",
        action="append",
        default=[],
        metavar="PATH",
        help="a file (relative to the repository root) links may name before it exists",
    )
    args = parser.parse_args()
    allowed = {Path(p).as_posix() for p in args.allow_missing}

    files = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    problems = []
    checked = 0
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        if not path.exists():
            problems.append(f"{name}:1: missing")
            continue
        checked += 1
        lines = path.read_text(encoding="utf-8").splitlines()
        if name == "README.md" and len(lines) > README_MAX_LINES:
            problems.append(
                f"{name}:{len(lines)}: {len(lines)} lines, more than {README_MAX_LINES}"
            )
        check_tables(name, lines, problems)
        check_links(path, name, lines, allowed, problems)
        check_work_talk(name, lines, problems)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"docs: {checked} files checked, ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
