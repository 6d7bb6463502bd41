"""Password rules applied everywhere a password is set: web forms, the security API and the CLI."""

from __future__ import annotations

import string

from flask_appbuilder.exceptions import PasswordComplexityValidationError

MIN_LENGTH = 8


def password_problems(password: str) -> list[str]:
    """Chinese descriptions of every rule ``password`` breaks (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"长度至少 {MIN_LENGTH} 位")
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(c in string.punctuation for c in password),
    ]
    if sum(classes) < 3:
        problems.append("至少包含大写字母、小写字母、数字、特殊符号中的三类")
    return problems


def validate_password(password: str) -> None:
    """Flask-AppBuilder's complexity hook: raise with a Chinese message when a rule is broken."""
    problems = password_problems(password)
    if problems:
        raise PasswordComplexityValidationError("密码不符合要求：" + "；".join(problems))
