"""The shape of an entity definition: fields with labels, list/search flags and choices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orgcarbon.metamodel.choices import Choices


@dataclass(frozen=True)
class Field:
    """One field of an entity: label, where it appears, allowed values, relation display."""

    name: str
    label: Any  # lazy_gettext string: English msgid, Chinese in the catalogue
    list: bool = False
    search: bool = False
    form: bool = True  # shown in the add and edit forms
    edit: bool = True  # False: set on add, read-only afterwards
    choices: Choices | None = None
    relation: str | None = None  # attribute of the related row shown in the API (name, username)
    many: bool = False  # a many-to-many relation


@dataclass(frozen=True)
class Entity:
    """One entity: everything its admin view, REST API, form and menu entry are built from."""

    name: str  # REST resource name and route segment
    model: type
    title: Any
    icon: str
    fields: tuple[Field, ...]
    validator: Callable[..., dict[str, str]]
    scope_column: str | None = None  # organisation column that decides the data scope
    scope_nullable: bool = False  # rows without an organisation are visible to every user
    versioned: bool = False
    order: tuple[str, str] = ("id", "asc")
    extra_show: tuple[str, ...] = field(default_factory=tuple)  # read-only properties

    @property
    def labels(self) -> dict[str, Any]:
        """Field name → label."""
        return {f.name: f.label for f in self.fields}

    def names(self, flag: str) -> list[str]:
        """Names of the fields whose ``flag`` is set."""
        return [f.name for f in self.fields if getattr(f, flag)]
