"""Chinese report number formatting, exposed to templates as Jinja filters.

Chinese carbon reports print thousands separators and a fixed number of decimals per unit
(tCO2 two, intensities four), switch to 万吨 on request, and show deductions as negative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

__all__ = ["DECIMALS", "FILTERS", "FILTER_HELP", "cn_date", "deduction", "num", "pct", "qty", "wan"]

# Decimals per unit; units not listed fall back to two.
DECIMALS: dict[str, int] = {
    "tCO2": 2,
    "tCO2/t": 4,
    "tCO2/GJ": 6,
    "tCO2/MWh": 4,
    "tC/GJ": 5,
    "GJ/t": 3,
    "GJ/10^4Nm3": 2,
    "t": 2,
    "GJ": 2,
    "MWh": 2,
    "10^4Nm3": 2,
    "%": 2,
    "1": 4,
}
_EMPTY = "—"  # what a missing number prints as; a blank cell reads as "forgotten"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def num(value: Any, digits: int = 2) -> str:
    """5163238.9977 → "5,163,239.00"; None/NaN → "—"; negatives keep their minus sign."""
    number = _number(value)
    if number is None:
        return _EMPTY
    text = f"{number:,.{digits}f}"
    # "-0.00" reads as a deduction that is not there
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "")) == 0 else text


def qty(value: Any, unit: str = "tCO2") -> str:
    """A number with the decimals its unit calls for: ``qty(1.72107, "tCO2/t")`` → "1.7211"."""
    return num(value, DECIMALS.get(unit, 2))


def wan(value: Any, digits: int = 2, suffix: str = "万") -> str:
    """Tens of thousands: 5163239 → "516.32万" (append 吨 etc. in the template)."""
    number = _number(value)
    return _EMPTY if number is None else num(number / 10_000, digits) + suffix


def deduction(value: Any, digits: int = 2) -> str:
    """A deducted term printed as negative whatever its stored sign: 57030 → "-57,030.00"."""
    number = _number(value)
    return _EMPTY if number is None else num(-abs(number), digits)


def pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage: 0.5413 → "54.13%"."""
    number = _number(value)
    return _EMPTY if number is None else num(number * 100, digits) + "%"


def cn_date(value: Any) -> str:
    """2023-03-31 (date, datetime or ISO text) → "2023年3月31日"."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime | date):
        return f"{value.year}年{value.month}月{value.day}日"
    return _EMPTY if value is None else str(value)


FILTERS: dict[str, Callable[..., str]] = {
    "num": num,
    "qty": qty,
    "wan": wan,
    "deduction": deduction,
    "pct": pct,
    "cn_date": cn_date,
}

# Shown in the catalogue/docs; one place so docs and filters cannot disagree.
FILTER_HELP: dict[str, str] = {
    "num": "千分位、固定小数位（默认 2 位）：{{ total_tco2|num }} → 5,163,239.00；{{ x|num(4) }}",
    "qty": "按单位取小数位：{{ intensity_total|qty('tCO2/t') }} → 1.7211",
    "wan": "换算为万（吨）：{{ total_tco2|wan }}吨 → 516.32万吨",
    "deduction": "扣减项显示为负数：{{ e_exported_electricity|deduction }} → -57,030.00",
    "pct": "小数显示为百分比：{{ row.share|pct }} → 54.13%",
    "cn_date": "中文日期：{{ compile_date|cn_date }} → 2023年3月31日",
}
