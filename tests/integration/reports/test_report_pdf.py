"""PDF through LibreOffice: produced, signed and verifiable when installed; a clear note when not."""

from __future__ import annotations

import os

import pytest
from flask import Flask

from orgcarbon.platform.extensions import db
from orgcarbon.reports import pdf
from orgcarbon.reports.verify import verify_file_bytes
from tests.integration.reports.test_report_render import account, make_report, stored


def test_without_libreoffice_the_report_is_done_with_a_note(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """No soffice on PATH: the Word file is made and signed, the message says no PDF was produced."""
    monkeypatch.setattr(pdf, "pdf_converter", lambda: None)
    with app.app_context():
        report = make_report(app, account(), pdf=True)
        assert report.status == "done" and [f.media_type for f in report.files] == [
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]
        assert report.message == "报告已生成并签名；未安装 LibreOffice，未生成 PDF"


@pytest.mark.slow
def test_pdf_path_of_this_machine(app: Flask) -> None:
    """With LibreOffice: a signed PDF next to the Word file. Without: the "not installed" note."""
    with app.app_context():
        report = make_report(app, account("西区"), pdf=True)
        assert report.status == "done", report.message
        if pdf.pdf_converter() is None:
            # CI installs LibreOffice Writer and requires every service: there the PDF path must run.
            assert not os.environ.get("ORGCARBON_REQUIRE_SERVICES"), "LibreOffice (soffice) is not installed"
            assert len(report.files) == 1 and "未安装 LibreOffice，未生成 PDF" in report.message
            return
        assert [f.filename.rsplit(".", 1)[-1] for f in report.files] == ["docx", "pdf"], report.message
        found = report.files[1]
        content = stored(app, found)
        assert content.startswith(b"%PDF-") and found.media_type == "application/pdf"
        assert found.filename == f"西区-2024年度温室气体排放报告-R{report.id}.pdf"
        outcome = verify_file_bytes(db.session, content)
        assert outcome.ok and outcome.file_id == found.id and outcome.signer == "consultant"
        assert report.message == "报告已生成并签名"


def test_conversion_failure_is_a_chinese_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A converter that produces nothing gives PdfError with the exit code, never a silent empty PDF."""
    fake = tmp_path / "soffice"
    fake.write_text("#!/bin/sh\necho 'source file could not be loaded' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(pdf.PdfError) as failed:
        pdf.docx_to_pdf(b"not a docx", executable=str(fake))
    assert str(failed.value) == "LibreOffice 转换 PDF 失败（退出码 1：source file could not be loaded），未生成 PDF"
