"""Tables of the metamodel that are edited in place: organisations, processes, units, materials.

Versioned tables (factors, formulas, bindings, accounting models) live in ``versioned.py``.
Every table that belongs to an organisation carries its own ``organization_id`` (copied from the
parent for sub-processes and bindings) so that one scope filter works on every table alike.
"""

from __future__ import annotations

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.security.encrypted import EncryptedText


class Organization(Model):
    """A node of the organisation tree (集团 → 公司 → 厂区, any depth)."""

    __tablename__ = "mm_organization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16), default="公司")
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    address: Mapped[str | None] = mapped_column(String(500))
    grid_region: Mapped[str | None] = mapped_column(String(8))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    # Text: the security issue stores contact details encrypted (SM4-GCM), longer than the plain value.
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText("mm_organization.contact_phone", mask="phone"))
    contact_email: Mapped[str | None] = mapped_column(EncryptedText("mm_organization.contact_email", mask="email"))
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    # 法定代表人身份证号: SM4-GCM encrypted, masked for roles without the sensitive-data permission
    legal_representative_id_number: Mapped[str | None] = mapped_column(
        EncryptedText("mm_organization.legal_representative_id_number", mask="id_number")
    )

    parent: Mapped[Organization | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Organization]] = relationship(back_populates="parent")

    @property
    def organization_id(self) -> int:
        """The node itself is its scope key."""
        return self.id

    def __str__(self) -> str:
        return self.name


class UserOrganization(Model):
    """A user belongs to an organisation node and with it to the node's whole subtree."""

    __tablename__ = "mm_user_organization"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)

    user: Mapped[User] = relationship(User)
    organization: Mapped[Organization] = relationship()

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"


class Process(Model):
    """A process (工序) of one organisation node, e.g. 炼铁 of 东区."""

    __tablename__ = "mm_process"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    template: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")
    capacity: Mapped[float | None] = mapped_column(Float)
    capacity_unit: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()

    def __str__(self) -> str:
        return f"{self.organization.name if self.organization else ''}/{self.name}"


class SubProcess(Model):
    """A sub-process (子工序) of a process; sub-processes nest (any depth)."""

    __tablename__ = "mm_subprocess"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("mm_process.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("mm_subprocess.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    capacity: Mapped[float | None] = mapped_column(Float)
    capacity_unit: Mapped[str | None] = mapped_column(String(32))

    # Not called "process": a form field of that name would shadow WTForms' Form.process().
    main_process: Mapped[Process] = relationship()
    parent: Mapped[SubProcess | None] = relationship(remote_side=[id])
    organization: Mapped[Organization] = relationship()

    def __str__(self) -> str:
        return f"{self.main_process}/{self.name}" if self.main_process else self.name


class Unit(Model):
    """A unit of measure: its dimension and its factor to the dimension's base unit."""

    __tablename__ = "mm_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str | None] = mapped_column(String(100))
    dimension: Mapped[str] = mapped_column(String(32))
    factor: Mapped[float] = mapped_column(Float)
    aliases: Mapped[str | None] = mapped_column(String(300))  # comma-separated

    def alias_list(self) -> list[str]:
        """Aliases as a list (``万Nm3, 10000Nm3`` → two names)."""
        return [a.strip() for a in (self.aliases or "").replace("，", ",").split(",") if a.strip()]

    def __str__(self) -> str:
        return self.symbol


class ProcessTemplate(Model):
    """A standard process of an industry pack (炼铁 with 高炉, 热风炉, 喷煤...)."""

    __tablename__ = "mm_process_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    subprocesses: Mapped[str | None] = mapped_column(Text)  # comma-separated names
    standard: Mapped[str | None] = mapped_column(String(200))

    def __str__(self) -> str:
        return self.name


class Material(Model):
    """A material or medium (物料/介质), defined freely by administrators."""

    __tablename__ = "mm_material"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    name_en: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), default="other")
    unit: Mapped[str] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(16))
    default_parameters: Mapped[str | None] = mapped_column(Text)  # JSON object, e.g. {"purity": 0.92}
    description: Mapped[str | None] = mapped_column(Text)

    def __str__(self) -> str:
        return self.name


class ActivityRecord(Model):
    """Approved activity data that accounting reads: one binding's quantity for one month (or year).

    Rows come from the demo enterprise (``source`` "demo"), ``orgcarbon import-package``
    ("package") or an approved form submission ("form"/"excel", with ``submission_id``). A
    measured parameter (NCV, CC, OF, EF, purity) on the row wins over the factor library's default.
    """

    __tablename__ = "mm_activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    subprocess_id: Mapped[int] = mapped_column(ForeignKey("mm_subprocess.id"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("mm_material.id"))
    category: Mapped[str] = mapped_column(String(32))
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    purity: Mapped[float | None] = mapped_column(Float)
    # Measured parameters (None = take the library default): GJ/unit, tC/GJ, fraction, tCO2/unit.
    ncv: Mapped[float | None] = mapped_column(Float)
    carbon_content: Mapped[float | None] = mapped_column(Float)
    oxidation_factor: Mapped[float | None] = mapped_column(Float)
    ef: Mapped[float | None] = mapped_column(Float)
    # Where the row came from: demo | package | form | excel | api; the submission that approved it.
    source: Mapped[str] = mapped_column(String(16), default="demo", server_default="demo")
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("fm_submission.id"), index=True)
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("mm_binding.id"), index=True)

    organization: Mapped[Organization] = relationship()
    subprocess: Mapped[SubProcess] = relationship()
    material: Mapped[Material] = relationship()
