"""``orgcarbon report verify`` on report packages: offline with a trusted key, or the signer's registered key."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask import Flask

from orgcarbon.platform.extensions import db
from orgcarbon.report_templates.package import build_report_package
from orgcarbon.report_templates.report_cli import report
from orgcarbon.security.crypto import generate_keypair
from tests.conftest import run_cli
from tests.integration.reports.test_report_render import user

CONTEXT = {"org_name": "示例钢铁", "report_year": 2024, "draft": False, "total_tco2": 1.0, "by_process": []}


def _package(private_key: str, signer: str) -> bytes:
    return build_report_package({"报告.docx": b"docx bytes", "附表.xlsx": b"xlsx bytes"},
                                template={"name": "gbt32151.5-report", "version": "1"}, input_digest="ab" * 32,
                                context=CONTEXT, private_key=private_key, signer_id=signer)


def test_package_verifies_offline_with_the_trusted_key_and_fails_when_changed(tmp_path: Path) -> None:
    """No database needed: a valid package exits 0; a package with a replaced file exits 1 with the reason."""
    pair = generate_keypair()
    good = tmp_path / "报告包.zip"
    good.write_bytes(_package(pair.private_key, "consultant"))
    result = CliRunner().invoke(report, ["verify", str(good), "--public-key", pair.public_key])
    assert result.exit_code == 0, result.output
    assert "验签通过：报告包（示例钢铁，2024 年，2 个文件）签名有效，文件摘要一致。" in result.output

    import io
    import zipfile

    changed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good.read_bytes())) as src, zipfile.ZipFile(changed, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"docx bytes!" if name == "files/报告.docx" else src.read(name))
    bad = tmp_path / "改过的报告包.zip"
    bad.write_bytes(changed.getvalue())
    key_file = tmp_path / "public.key"
    key_file.write_text(pair.public_key + "\n", encoding="utf-8")
    result = CliRunner().invoke(report, ["verify", str(bad), "--public-key", str(key_file)])
    assert result.exit_code == 1
    assert "文件 报告.docx 的 SM3 摘要与清单不符：文件已被修改" in result.output and "验签失败" in result.output

    other = generate_keypair()
    result = CliRunner().invoke(report, ["verify", str(good), "--public-key", other.public_key])
    assert result.exit_code == 1 and "清单签名验证失败" in result.output


def test_package_without_a_key_uses_the_signers_registered_key(app: Flask, tmp_path: Path) -> None:
    """Through ``orgcarbon``: the signer's key registered on the platform is the trusted one."""
    from orgcarbon.security.signatures import user_key

    with app.app_context():
        private, _ = user_key(db.session, user(app, "consultant"))
        db.session.commit()
    path = tmp_path / "报告包.zip"
    path.write_bytes(_package(private, "consultant"))
    result = run_cli(app, ["report", "verify", str(path)])
    assert result.exit_code == 0, result.output
    path.write_bytes(_package(generate_keypair().private_key, "consultant"))  # signed with another key
    result = run_cli(app, ["report", "verify", str(path)])
    assert result.exit_code == 1 and "清单签名验证失败" in result.output
