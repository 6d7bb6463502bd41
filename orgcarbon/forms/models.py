"""Tables of the forms issue: form definitions, submissions and their values, evidence, the review
history, Excel/package imports and period locks.

Flow (one way): a form definition (``FormDefinition`` → ``FormSection`` → ``FormField``, each field
bound to a metamodel binding and a parameter) is filled for an organisation node and a period as a
``Submission`` (values in ``SubmissionValue``, files in ``Evidence``); the workflow moves it
draft → submitted → (reviewed →) approved, every step an ``WorkflowEvent``; approval writes the
values into ``mm_activity`` (``ActivityRecord.submission_id``), which accounting reads. A change
after approval is a new ``Submission`` version (``previous_id``); the approved one stays as it was.
``Period`` rows lock an organisation node's month; ``ImportBatch`` keeps each uploaded file.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.metamodel.models import Organization
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.security.models import utcnow  # one clock for every table

GRANULARITIES = ("month", "quarter", "year")
PARAMETERS = ("quantity", "ncv", "cc", "of", "purity", "ef", "note")
DATA_TYPES = ("number", "text", "date", "choice")
SUBMISSION_STATUSES = ("draft", "submitted", "reviewed", "approved", "superseded")
PERIOD_STATUSES = ("open", "closed", "reopen_requested")


class FormDefinition(Model):
    """A data-entry form an administrator configures for one organisation node (填报表单)."""

    __tablename__ = "fm_form"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    granularity: Mapped[str] = mapped_column(String(8), default="month")  # month | quarter | year
    review_steps: Mapped[int] = mapped_column(Integer, default=2)  # 1: approve; 2: review then approve
    due_day: Mapped[int] = mapped_column(Integer, default=10)  # day of the month after the period ends
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=False)  # at least one file to submit
    # Bumped whenever the definition (sections, fields) changes; an Excel template carries it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    organization: Mapped[Organization] = relationship()
    sections: Mapped[list[FormSection]] = relationship(back_populates="form", order_by="FormSection.order",
                                                       cascade="all, delete-orphan")
    fields: Mapped[list[FormField]] = relationship(back_populates="form", order_by="FormField.order",
                                                   cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name


class FormSection(Model):
    """A titled group of fields on a form (e.g. 燃料消耗, 产品产量)."""

    __tablename__ = "fm_form_section"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("fm_form.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    order: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str | None] = mapped_column(Text)

    form: Mapped[FormDefinition] = relationship(back_populates="sections")
    organization: Mapped[Organization] = relationship()

    def __str__(self) -> str:
        return f"{self.form.name if self.form else ''} / {self.name}"


class FormField(Model):
    """One input of a form, bound to a binding and the parameter it fills (quantity, NCV, ...)."""

    __tablename__ = "fm_form_field"
    __table_args__ = (UniqueConstraint("form_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("fm_form.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("fm_form_section.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200))
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("mm_binding.id"), index=True)
    parameter: Mapped[str] = mapped_column(String(16), default="quantity")  # see PARAMETERS
    data_type: Mapped[str] = mapped_column(String(8), default="number")  # see DATA_TYPES
    unit: Mapped[str | None] = mapped_column(String(32))
    choices: Mapped[str | None] = mapped_column(Text)  # comma-separated, for data_type "choice"
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    default: Mapped[str | None] = mapped_column(String(200))
    help_text: Mapped[str | None] = mapped_column(Text)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    rule: Mapped[str | None] = mapped_column(Text)  # expression over ``value``; false → error
    rule_message: Mapped[str | None] = mapped_column(String(300))
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=False)
    order: Mapped[int] = mapped_column(Integer, default=0)

    form: Mapped[FormDefinition] = relationship(back_populates="fields")
    section: Mapped[FormSection | None] = relationship()
    binding: Mapped[Binding | None] = relationship()
    organization: Mapped[Organization] = relationship()

    def choice_list(self) -> list[str]:
        """The allowed values of a choice field."""
        return [c.strip() for c in (self.choices or "").replace("，", ",").split(",") if c.strip()]

    def __str__(self) -> str:
        return self.label


class ImportBatch(Model):
    """One uploaded file (Excel workbook or activity package), kept as it arrived, and its outcome."""

    __tablename__ = "fm_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # excel | package
    form_id: Mapped[int | None] = mapped_column(ForeignKey("fm_form.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    sm3: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    stored_path: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|running|done|rejected|failed
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)  # [{sheet, row, column, field, value, reason}]
    report_path: Mapped[str | None] = mapped_column(String(500))  # the workbook annotated with the errors
    submission_ids: Mapped[list[int] | None] = mapped_column(JSON)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    form: Mapped[FormDefinition | None] = relationship()
    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User | None] = relationship(User)


class Submission(Model):
    """A form filled for one organisation node and period; one row per version."""

    __tablename__ = "fm_submission"
    __table_args__ = (UniqueConstraint("form_id", "organization_id", "year", "period", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("fm_form.id"), index=True)
    form_revision: Mapped[int] = mapped_column(Integer, default=1)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    period: Mapped[int] = mapped_column(Integer, default=0)  # month 1–12, quarter 1–4, 0 for a year
    version: Mapped[int] = mapped_column(Integer, default=1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("fm_submission.id"))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)  # see SUBMISSION_STATUSES
    source: Mapped[str] = mapped_column(String(16), default="form")  # form | excel | package | api
    import_id: Mapped[int | None] = mapped_column(ForeignKey("fm_import.id"), index=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text)  # the last rejection, shown on the draft
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    form: Mapped[FormDefinition] = relationship()
    organization: Mapped[Organization] = relationship()
    previous: Mapped[Submission | None] = relationship(remote_side=[id])
    values: Mapped[list[SubmissionValue]] = relationship(back_populates="submission",
                                                         cascade="all, delete-orphan")
    evidence: Mapped[list[Evidence]] = relationship(back_populates="submission", order_by="Evidence.id")
    events: Mapped[list[WorkflowEvent]] = relationship(back_populates="submission", order_by="WorkflowEvent.id")
    created_by: Mapped[User | None] = relationship(User, foreign_keys=[created_by_id])
    submitted_by: Mapped[User | None] = relationship(User, foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(User, foreign_keys=[reviewed_by_id])
    approved_by: Mapped[User | None] = relationship(User, foreign_keys=[approved_by_id])

    def __str__(self) -> str:
        return f"{self.form.name if self.form else ''} {self.organization.name if self.organization else ''} " \
               f"{self.year}-{self.period} v{self.version}"


class SubmissionValue(Model):
    """One field's value in one submission (as entered, in the field's unit)."""

    __tablename__ = "fm_value"
    __table_args__ = (UniqueConstraint("submission_id", "field_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("fm_submission.id", ondelete="CASCADE"), index=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fm_form_field.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    value_number: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(32))
    import_row: Mapped[int | None] = mapped_column(Integer)  # the workbook row it came from

    submission: Mapped[Submission] = relationship(back_populates="values")
    field: Mapped[FormField] = relationship()


class Evidence(Model):
    """A file attached to a submission (lab report, invoice, meter photo), kept with its SM3 digest."""

    __tablename__ = "fm_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("fm_submission.id"), index=True)
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fm_form_field.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer, default=0)
    sm3: Mapped[str] = mapped_column(String(64), index=True)
    stored_path: Mapped[str] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(300))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="evidence")
    field: Mapped[FormField | None] = relationship()
    uploaded_by: Mapped[User | None] = relationship(User)


class Period(Model):
    """An organisation node's month: open or closed (locked). Closing locks the node's subtree."""

    __tablename__ = "fm_period"
    __table_args__ = (UniqueConstraint("organization_id", "year", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    month: Mapped[int] = mapped_column(Integer)  # 1–12
    status: Mapped[str] = mapped_column(String(16), default="open")  # see PERIOD_STATUSES
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    reopen_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reopen_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    organization: Mapped[Organization] = relationship()
    closed_by: Mapped[User | None] = relationship(User, foreign_keys=[closed_by_id])
    reopen_requested_by: Mapped[User | None] = relationship(User, foreign_keys=[reopen_requested_by_id])


class WorkflowEvent(Model):
    """History: every save, submit, review, approval, rejection, comment, close and reopen."""

    __tablename__ = "fm_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("fm_submission.id"), index=True)
    period_id: Mapped[int | None] = mapped_column(ForeignKey("fm_period.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    user_name: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, object] | None] = mapped_column(JSON)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    submission: Mapped[Submission | None] = relationship(back_populates="events")
    period: Mapped[Period | None] = relationship()
