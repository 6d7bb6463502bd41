"""Problems found in input data, each tied to a row and field, with a Chinese reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Issue", "RejectedError"]


@dataclass(frozen=True)
class Issue:
    """One problem: the row (1-based, as the user numbers it), field, offending value and reason."""

    row: int | None
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row is not None else "数据包"
        shown = "" if self.value is None else f"={_show(self.value)}"
        return (
            f"{where} {self.field}{shown}：{self.reason}"
            if self.field
            else f"{where}：{self.reason}"
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "row": self.row,
            "field": self.field,
            "value": _plain(self.value),
            "reason": self.reason,
        }


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


class RejectedError(ValueError):
    """Input rejected; carries every issue found, not just the first."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))
