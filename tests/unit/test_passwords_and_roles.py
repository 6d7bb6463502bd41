"""Password rules and the role matrix as data."""

from __future__ import annotations

import pytest
from flask_appbuilder.exceptions import PasswordComplexityValidationError

from orgcarbon.security.passwords import password_problems, validate_password
from orgcarbon.security.roles import AREAS, READ, ROLE_MATRIX, WRITE, matrix_markdown


@pytest.mark.parametrize(
    ("password", "ok"),
    [("Abcdef1!", True), ("abcdefg1", False), ("Ab1!", False), ("ABCDEFG1x", True), ("password", False)],
)
def test_password_rules(password: str, ok: bool) -> None:
    assert (password_problems(password) == []) is ok


def test_validator_message_is_chinese() -> None:
    with pytest.raises(PasswordComplexityValidationError, match="长度至少 8 位"):
        validate_password("Ab1!")


def test_matrix_names_only_known_areas_and_permissions() -> None:
    names = {a.name for a in AREAS}
    for role, areas in ROLE_MATRIX.items():
        assert set(areas) <= names, role
        for perms in areas.values():
            assert set(perms) <= {READ, WRITE}
            assert READ in perms  # writing without reading is never granted


def test_auditor_reads_everything_and_writes_nothing() -> None:
    assert ROLE_MATRIX["审计员"] == {a.name: (READ,) for a in AREAS}


def test_documented_matrix_matches_the_data() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert matrix_markdown() in doc, "docs/permissions.md is stale: regenerate with `orgcarbon roles`"
