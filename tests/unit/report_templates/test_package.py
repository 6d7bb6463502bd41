"""Signed report packages verify, and fail after any file or the manifest is changed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from typing import Any

import pytest

from orgcarbon.report_templates.package import build_report_package, verify_report_package
from orgcarbon.security.crypto import generate_keypair, sm3_hex

KEYS = generate_keypair()


@pytest.fixture(scope="module")
def package(context: dict[str, Any]) -> bytes:
    files = {"report.docx": b"docx bytes", "tables.xlsx": b"xlsx bytes"}
    return build_report_package(
        files,
        template={"name": "gbt32151.5-report", "version": "1"},
        input_digest=sm3_hex(b"input package"),
        context=context,
        private_key=KEYS.private_key,
        signer_id="platform",
    )


def _replace(data: bytes, name: str, content: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, content if item.filename == name else src.read(item))
        if name not in src.namelist():
            dst.writestr(name, content)
    return out.getvalue()


def test_package_verifies_and_records_figures(package: bytes) -> None:
    check = verify_report_package(package, KEYS.public_key)
    assert check.ok and check.problems == ()
    assert check.manifest is not None
    assert round(check.manifest["figures"]["total_tco2"], 2) == 5163239.00
    assert check.manifest["files"][0] == {
        "name": "report.docx",
        "size": 10,
        "sm3": sm3_hex(b"docx bytes"),
    }


def test_changed_file_fails(package: bytes) -> None:
    check = verify_report_package(
        _replace(package, "files/report.docx", b"forged"), KEYS.public_key
    )
    assert not check.ok
    assert check.problems == ("文件 report.docx 的 SM3 摘要与清单不符：文件已被修改",)


def test_changed_manifest_or_other_key_fails(package: bytes) -> None:
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("manifest.json"))
    manifest["figures"]["total_tco2"] = 1.0
    forged = _replace(package, "manifest.json", json.dumps(manifest).encode())
    assert "清单签名验证失败" in verify_report_package(forged, KEYS.public_key).problems[0]
    assert not verify_report_package(package, generate_keypair().public_key).ok
    added = verify_report_package(_replace(package, "files/extra.txt", b"x"), KEYS.public_key)
    assert added.problems == ("文件 extra.txt 不在清单中：报告包被添加了文件",)


def test_importing_report_templates_pulls_in_no_flask_or_sqlalchemy() -> None:
    code = (
        "import sys\n"
        "import orgcarbon.report_templates.generate, orgcarbon.report_templates.checks\n"
        "import orgcarbon.report_templates.package, orgcarbon.report_templates.tables\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'flask_appbuilder')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
