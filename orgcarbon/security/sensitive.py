"""Masking of sensitive columns in pages, API answers and exports (spec 8.4.2).

A column is sensitive when its type is ``EncryptedText`` with a masking kind (contact phone and
e-mail of an organisation). Users whose roles hold ``can_read`` on ``SensitiveData`` see the value
in clear; everyone else sees it masked (``138****5678``, ``z*******@example.com``). The generated
metamodel pages and APIs call the two hooks below; nothing else needs to know which columns are
sensitive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from sqlalchemy import inspect

from orgcarbon.security.crypto.masking import mask
from orgcarbon.security.encrypted import EncryptedText
from orgcarbon.security.roles import SENSITIVE_PERMISSION


def sensitive_columns(model: type) -> dict[str, str]:
    """Column name → masking kind of every masked column of ``model``."""
    found: dict[str, str] = {}
    for attr in inspect(model).column_attrs:
        kind = getattr(attr.columns[0].type, "mask", None) if attr.columns else None
        if isinstance(attr.columns[0].type, EncryptedText) and kind:
            found[attr.key] = kind
    return found


def may_see_sensitive(user: Any = None) -> bool:
    """True when the signed-in user (or ``user``) may read sensitive fields in clear."""
    from flask import current_app, g

    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    user = user if user is not None else getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    permission, view = SENSITIVE_PERMISSION
    return bool(sm.has_access(permission, view))


def masked(value: Any, kind: str) -> Any:
    """``value`` masked by ``kind`` unless the current user may see it in clear."""
    if value is None or value == "" or may_see_sensitive():
        return value
    return mask(str(value), kind)


def sensitive_formatters(
    model: type, others: Callable[[Any], Any] | None = None
) -> dict[str, Callable[[Any], Any]]:
    """``formatters_columns`` for a ``ModelView`` of ``model``: mask, then ``others`` (if given)."""

    def formatter(kind: str) -> Callable[[Any], Any]:
        def run(value: Any) -> Any:
            shown = masked(value, kind)
            return others(shown) if others is not None else shown

        return run

    return {name: formatter(kind) for name, kind in sensitive_columns(model).items()}


def mask_rows(model: type, rows: Iterable[MutableMapping[str, Any]]) -> None:
    """Mask the sensitive keys of API result rows in place (for ``pre_get``/``pre_get_list``)."""
    columns = sensitive_columns(model)
    if not columns or may_see_sensitive():
        return
    for row in rows:
        for name, kind in columns.items():
            if row.get(name):
                row[name] = mask(str(row[name]), kind)
