"""Tables the ``opspilot`` commands print: they fit the terminal without cutting a word a person reads by.

A column is a key (an id, a status, a name, a time: printed whole, on one line), text (wraps onto more lines),
or optional (left out, last first, when the terminal is too narrow for everything). A terminal too narrow even
for the rest gets each row as a block of ``column: value`` lines instead. When the output goes to a pipe or a
file there is no terminal to fit: every column is printed whole, each row on one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Column, Table

# A text column narrower than this reads like a list of fragments: drop optional columns before squeezing it.
MIN_TEXT_WIDTH = 16


@dataclass(frozen=True)
class Col:
    header: str
    wrap: bool = False
    optional: bool = False


def _needs(col: Col, values: list[str]) -> int:
    """The narrowest ``col`` may be: a key's longest value whole, a text's longest word (but not too narrow)."""
    if col.wrap:
        words = [len(word) for value in values for word in value.split()]
        return max([len(col.header), MIN_TEXT_WIDTH, *words])
    return max([len(col.header), *(len(value) for value in values)])


def fitting(columns: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> list[int] | None:
    """The indexes of the columns to print in ``width`` characters: every one that fits, optional ones left
    out from the last while the others do not; None when even the others do not fit."""
    chosen = list(range(len(columns)))
    needs = [_needs(col, [row[i] for row in rows]) for i, col in enumerate(columns)]

    def total(indexes: list[int]) -> int:
        # Each column is padded by a space either side, with a border before each and one at the end.
        return sum(needs[i] + 3 for i in indexes) + 1

    for index in reversed(range(len(columns))):
        if total(chosen) <= width:
            return chosen
        if columns[index].optional:
            chosen.remove(index)
    return chosen if total(chosen) <= width else None


def print_table(
    columns: Sequence[Col], rows: Iterable[Sequence[str]], *, console: Console | None = None
) -> None:
    """Print ``rows`` under ``columns`` (see the module docstring)."""
    out = console or Console()
    rows = [list(row) for row in rows]
    if out.is_terminal:
        fits = fitting(columns, rows, out.width)
        if fits is None:
            _print_blocks(columns, rows, out)
            return
        chosen = fits
        left_out = [columns[i].header for i in range(len(columns)) if i not in chosen]
    else:
        # No terminal: nothing to fit, and a cut row would lose what a script reads.
        chosen, left_out = list(range(len(columns))), []
        out = Console(file=out.file, width=1_000_000, no_color=True, highlight=False)
    table = Table(
        *(
            Column(
                columns[i].header,
                no_wrap=not columns[i].wrap,
                overflow="fold",
                min_width=_needs(columns[i], [row[i] for row in rows]),
            )
            for i in chosen
        ),
    )
    for row in rows:
        table.add_row(*(row[i] for i in chosen))
    out.print(table)
    if left_out:
        out.print(f"(left out for the terminal's width: {', '.join(left_out)})", highlight=False)


def _print_blocks(columns: Sequence[Col], rows: list[list[str]], out: Console) -> None:
    """Each row as its first column, then ``column: value`` lines (wrapped by the terminal, never cut)."""
    for row in rows:
        out.print(row[0], style="bold", highlight=False, soft_wrap=True)
        for col, value in zip(columns[1:], row[1:], strict=True):
            if value:
                out.print(f"  {col.header}: {value}", highlight=False, soft_wrap=True)
