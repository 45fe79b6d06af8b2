"""The benchmarks' results as rich tables for the terminal and as docs/benchmarks.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from bench.common import Section, duration

COMMAND = "make bench"
RUNS = ".venv/bin/python -m bench"


def show(console: Console, section: Section) -> None:
    table = Table(title=section.title, title_justify="left", show_lines=False)
    for i, column in enumerate(section.columns):
        table.add_column(column, justify="left" if i < 2 else "right", overflow="fold")
    for row in section.rows:
        table.add_row(*row)
    console.print(table)
    for note in section.notes:
        console.print(f"  • {note}", markup=False, highlight=False)
    console.print()


def _md_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def markdown(sections: Sequence[Section], machine: Mapping[str, str], date: str, total: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        "How fast budget-bot answers and how gently it treats PropellerAds' rate limits, measured over real HTTP",
        "on 127.0.0.1 against the sandbox PropellerAds API (with the live rate limits unless said otherwise) and",
        "the Slack stand-in. Every figure below comes from one run of:",
        "",
        "```sh",
        f"{COMMAND}    # runs {RUNS}: prints these tables and rewrites this file",
        "```",
        "",
        f"Run on {date}; it took {duration(total)}.",
        "",
        "## Machine",
        "",
        *_md_table(["", ""], [[name, value] for name, value in machine.items()]),
        "",
    ]
    for section in sections:
        lines += _md_section(section)
    return "\n".join(lines).rstrip() + "\n"


def _md_section(section: Section, note: str | None = None) -> list[str]:
    lines = [f"## {section.title}", ""]
    if note:
        lines += [note, ""]
    lines += [*_md_table(section.columns, section.rows), ""]
    lines += [f"- {note}" for note in section.notes]
    if section.method:
        lines += ["", "How it is measured:", "", section.method.strip()]
    lines.append("")
    return lines


def with_sections(text: str, sections: Sequence[Section], date: str) -> str:
    """The file with these sections in place of their earlier figures (or added at its end), each dated, since
    they come from a later run than the rest."""
    for section in sections:
        block = "\n".join(_md_section(section, f"Run on its own on {date} (`{RUNS} --only`).")).rstrip() + "\n\n"
        heading = f"\n## {section.title}\n"
        start = text.find(heading)
        if start < 0:
            text = text.rstrip() + "\n\n" + block
            continue
        end = text.find("\n## ", start + len(heading))
        text = text[: start + 1] + block + (text[end + 1 :] if end >= 0 else "")
    return text.rstrip() + "\n"
