"""Report templates, their versions and activations, and rendered reports with their files.

``ReportTemplate`` is a named template (region or authority, standard, kind). Each upload is a new
``TemplateVersion`` (immutable once checked; the file is kept by SM3 under the instance folder).
``TemplateActivation`` says which version an organisation node uses (inherited by its subtree).
``Report`` is one rendering of an accounting run (queued → running → done | failed, with progress);
its ``ReportFile`` rows are the files produced (docx/xlsx, and PDF when LibreOffice is installed),
each with its SM3 digest and the SM2 signature of the platform key bound to the requesting user.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.security.models import utcnow  # one clock for every table

KINDS = ("report", "tables")  # the GB/T 32151.5 report (docx) or supplementary tables/government form (xlsx)


class ReportTemplate(Model):
    """A report template as consultants know it: name, region or authority, standard, kind."""

    __tablename__ = "rp_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    authority: Mapped[str | None] = mapped_column(String(200))  # 地区或主管部门, e.g. 河北省生态环境厅
    standard: Mapped[str] = mapped_column(String(100), default="GB/T 32151.5-2015")
    kind: Mapped[str] = mapped_column(String(16), default="report")  # report | tables
    description: Mapped[str | None] = mapped_column(Text)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)  # the shipped templates, not deletable
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template", order_by="TemplateVersion.version", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.name


class TemplateVersion(Model):
    """One uploaded file of a template; never changed after upload (a change is a new version)."""

    __tablename__ = "rp_template_version"
    __table_args__ = (UniqueConstraint("template_id", "version", name="uq_rp_template_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("rp_template.id", name="fk_rp_template_version_template", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str] = mapped_column(String(500))  # relative to the instance folder (kept by SM3)
    sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    # checked = the check found no error (may be activated); failed = errors listed in check_result
    status: Mapped[str] = mapped_column(String(16), default="uploaded")  # uploaded | checked | failed
    check_result: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)  # issues with location
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)  # what changed in this version
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    template: Mapped[ReportTemplate] = relationship(back_populates="versions")

    def __str__(self) -> str:
        return f"{self.template.name} 第 {self.version} 版" if self.template else f"v{self.version}"


class TemplateActivation(Model):
    """Which version of a template an organisation node (and its subtree) uses."""

    __tablename__ = "rp_activation"
    __table_args__ = (UniqueConstraint("template_id", "organization_id", name="uq_rp_activation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("rp_template.id", name="fk_rp_activation_template", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("mm_organization.id", name="fk_rp_activation_organization"), index=True
    )
    version_id: Mapped[int] = mapped_column(ForeignKey("rp_template_version.id", name="fk_rp_activation_version"))
    activated_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    activated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    template: Mapped[ReportTemplate] = relationship()
    version: Mapped[TemplateVersion] = relationship()


class Report(Model):
    """One rendering of an accounting run with a template version (or a built-in template)."""

    __tablename__ = "rp_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ac_run.id", name="fk_rp_report_run"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("mm_organization.id", name="fk_rp_report_organization"), index=True
    )
    template_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("rp_template_version.id", name="fk_rp_report_template_version")
    )
    builtin_name: Mapped[str | None] = mapped_column(String(64))  # when rendered from a built-in template
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|running|done|failed
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    message: Mapped[str | None] = mapped_column(Text)  # current step, or the Chinese error when failed
    final: Mapped[bool] = mapped_column(Boolean, default=False)  # False: carries the 草稿 watermark
    draft_reasons: Mapped[list[str] | None] = mapped_column(JSON)  # why the report is a draft
    inputs_digest: Mapped[str | None] = mapped_column(String(64))  # the run's inputs digest when rendered
    want_pdf: Mapped[bool] = mapped_column(Boolean, default=True)
    job_id: Mapped[str | None] = mapped_column(String(64))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    files: Mapped[list[ReportFile]] = relationship(
        back_populates="report", order_by="ReportFile.id", cascade="all, delete-orphan"
    )
    template_version: Mapped[TemplateVersion | None] = relationship()


class ReportFile(Model):
    """A file of a report, kept by SM3 under the instance folder, with its SM2 signature."""

    __tablename__ = "rp_report_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("rp_report.id", name="fk_rp_report_file_report", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(120))
    file_path: Mapped[str] = mapped_column(String(500))
    sm3: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    signature: Mapped[dict[str, object] | None] = mapped_column(JSON)  # SignedDigest as a dict
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    report: Mapped[Report] = relationship(back_populates="files")
