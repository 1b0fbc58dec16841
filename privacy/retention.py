"""The retention job: what each initiative's periods say has expired is removed."""

from __future__ import annotations


def purge() -> None:
    """Not built yet (issue 8, point 2)."""
