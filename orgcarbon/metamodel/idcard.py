"""居民身份证号码 (GB 11643-1999): 17 digits with the birth date, then an ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import datetime as dt

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"  # by the weighted sum mod 11
DIGITS = frozenset("0123456789")


def check_character(first17: str) -> str:
    """The check character for the first 17 digits."""
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalise(value: str) -> str:
    """Surrounding blanks removed, a lower-case ``x`` made upper case."""
    return value.strip().upper()


def id_number_problem(value: str, today: dt.date | None = None) -> str | None:
    """Chinese reason why ``value`` is not a valid 18-character ID number, or None when it is."""
    code = normalise(value)
    if len(code) != 18:
        return f"应为 18 位，实际 {len(code)} 位"
    if not set(code[:17]) <= DIGITS or code[17] not in DIGITS | {"X"}:
        return "前 17 位应为数字，最后一位为数字或 X"
    try:
        born = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return f"出生日期 {code[6:14]} 不是有效日期"
    if born.year < 1900 or born > (today or dt.date.today()):
        return f"出生日期 {code[6:14]} 不在合理范围内"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"校验位错误（应为 {expected}）"
    return None
