"""The Chinese catalogue is complete and current; FAB's gaps are covered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "orgcarbon" / "translations"


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def test_every_message_has_a_chinese_translation() -> None:
    missing = [m.id for m in _catalog("zh") if m.id and not m.string]
    assert missing == []


def test_catalogue_holds_every_string_in_the_code(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
         "-k", "lazy_gettext", "-k", "_l", "--no-location", "--omit-header", "-o", str(pot), str(ROOT)],
        check=True, capture_output=True, cwd=ROOT,
    )
    with pot.open("rb") as fh:
        in_code = {m.id for m in read_po(fh) if m.id}
    in_zh = {m.id for m in _catalog("zh") if m.id}
    assert in_code - in_zh == set(), "run `make translations` and translate the new entries"


def test_fab_buttons_are_translated() -> None:
    zh = {m.id: m.string for m in _catalog("zh")}
    assert (zh["Add"], zh["Edit"], zh["Show"], zh["Delete"]) == ("新增", "编辑", "查看", "删除")
