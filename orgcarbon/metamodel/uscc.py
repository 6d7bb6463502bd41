"""统一社会信用代码 (GB 32100-2015): 18 characters, the last a weighted mod-31 check character."""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """The check character for the first 17 characters."""
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Chinese reason why ``code`` is not a valid USCC, or None when it is."""
    code = code.strip().upper()
    if len(code) != 18:
        return f"应为 18 位，实际 {len(code)} 位"
    bad = sorted({c for c in code if c not in CHARSET})
    if bad:
        return "含有不允许的字符：" + "、".join(bad)
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"校验位错误（应为 {expected}）"
    return None
