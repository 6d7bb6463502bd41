"""Masking of sensitive values for pages and exports, following common Chinese conventions."""

from __future__ import annotations

import re
from collections.abc import Callable

MASK = "*"
_MOBILE = re.compile(r"^(\+?86[- ]?)?(1\d{10})$")


def mask_phone(value: str) -> str:
    """Mobile ``13812345678`` → ``138****5678``; landline ``010-12345678`` → ``010-****5678``."""
    text = value.strip()
    compact = re.sub(r"[\s-]", "", text)
    match = _MOBILE.match(compact)
    if match:
        prefix, number = match.group(1) or "", match.group(2)
        return f"{prefix}{number[:3]}{MASK * 4}{number[-4:]}"
    area, sep, local = text.partition("-")
    if sep and local.isdigit() and len(local) > 4:
        return f"{area}-{MASK * (len(local) - 4)}{local[-4:]}"
    return mask_middle(text, keep_head=3, keep_tail=4)


def mask_id_number(value: str, keep_head: int = 6, keep_tail: int = 4) -> str:
    """18-digit resident ID ``110101199003071234`` → ``110101********1234`` (birth date hidden)."""
    return mask_middle(value.strip(), keep_head=keep_head, keep_tail=keep_tail)


def mask_secret(value: str, keep_tail: int = 4) -> str:
    """API secrets and keys: a fixed ``********`` plus the last 4 characters when long enough.

    The mask length does not follow the secret's length, which would leak it.
    """
    text = value.strip()
    if len(text) < 12:
        return MASK * 8
    return MASK * 8 + text[-keep_tail:]


def mask_name(value: str) -> str:
    """Person names: ``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``."""
    text = value.strip()
    return text[:1] + MASK * (len(text) - 1) if len(text) > 1 else text


def mask_email(value: str) -> str:
    """``zhangsan@example.com`` → ``z*******@example.com``."""
    local, sep, domain = value.strip().partition("@")
    if not sep or not local:
        return mask_middle(value.strip(), keep_head=1, keep_tail=0)
    return local[:1] + MASK * max(len(local) - 1, 1) + "@" + domain


def mask_middle(value: str, keep_head: int, keep_tail: int) -> str:
    """Keep the first and last characters, star the rest; short values are starred entirely."""
    if len(value) <= keep_head + keep_tail:
        return MASK * len(value)
    tail = value[len(value) - keep_tail :] if keep_tail else ""
    return value[:keep_head] + MASK * (len(value) - keep_head - keep_tail) + tail


MASKERS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone,
    "id_number": mask_id_number,
    "secret": mask_secret,
    "name": mask_name,
    "email": mask_email,
}


def mask(value: str | None, kind: str) -> str | None:
    """Mask ``value`` by kind (``phone``, ``id_number``, ``secret``, ``name``, ``email``)."""
    if value is None or value == "":
        return value
    return MASKERS[kind](value)
