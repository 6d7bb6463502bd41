"""Sensitive fields in edit forms and API writes of users who see them masked (spec 8.4.2).

A user without ``SensitiveData`` sees ``110105********002X`` in the edit form as everywhere else; a
value posted back unchanged (still the masked text) keeps what is stored, so saving another field
neither reveals nor overwrites the identity number. The same holds for a JSON client that reads a
row and writes it back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from orgcarbon.security.crypto.masking import mask
from orgcarbon.security.sensitive import may_see_sensitive, sensitive_columns


def mask_form(form: Any, model: type) -> None:
    """Show the sensitive fields of an edit form masked, unless the user may see them."""
    columns = sensitive_columns(model)
    if not columns or may_see_sensitive():
        return
    for name, kind in columns.items():
        if name in form and form[name].data:
            form[name].data = mask(str(form[name].data), kind)


def keep_masked(item: Any) -> None:
    """Put back stored sensitive values that came back as their masked text."""
    columns = sensitive_columns(type(item))
    if not columns or may_see_sensitive():
        return
    state = inspect(item)
    for name, kind in columns.items():
        deleted = state.attrs[name].history.deleted
        old = deleted[0] if deleted else None
        if old and getattr(item, name) == mask(str(old), kind):
            setattr(item, name, old)
