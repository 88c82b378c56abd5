"""The one exception type for problems in user input.

Entry points (the optimizer CLI, later the Pulumi program and the offline plan) catch
`InputError`, print one line per problem and exit 2. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One invalid value: where it is (a key path or file:row) and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class InputError(Exception):
    """All problems found in one input, reported together."""

    def __init__(self, problems: list[Problem], heading: str = "invalid input"):
        self.problems = list(problems)
        self.heading = heading
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


def print_problems(heading: str, lines: Iterable[str]) -> None:
    """What every entry point prints on bad input: the heading, then one line per problem."""
    print(f"error: {heading}:", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)


class Collector:
    """Accumulates problems so a validator can report every one of them at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def raise_if_any(self, heading: str = "invalid input") -> None:
        if self.problems:
            raise InputError(self.problems, heading)
