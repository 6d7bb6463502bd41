"""Tables owned by the security package: the audit trail, per-user preferences and security state,
password history, IP allowlists per role, signatures of submissions and approvals, and the log store."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> dt.datetime:
    """Current UTC time; passed as a callable so each row gets its own timestamp."""
    return dt.datetime.now(dt.UTC)


class AuditEntry(Model):
    """One insert, update or delete of one row, written in the same transaction as the change."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(256), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(16))  # insert | update | delete
    table_name: Mapped[str] = mapped_column(String(128), index=True)
    row_id: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # SM3 chain (security/audit_chain.py): the previous entry's hash and this entry's own.
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.table_name}:{self.row_id}>"


class UserSetting(Model):
    """Preferences of one user that FAB's user table has no column for (interface language)."""

    __tablename__ = "user_setting"

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)


class UserSecurity(Model):
    """Security state FAB's user table has no column for: password age, forced change, IP allowlist,
    and the user's SM2 key pair for signing (private key encrypted with the data key)."""

    __tablename__ = "sec_user_security"

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True
    )
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_ips: Mapped[str | None] = mapped_column(Text, nullable=True)  # comma-separated addresses/networks
    sm2_public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    sm2_private_key: Mapped[str | None] = mapped_column(Text, nullable=True)  # encrypted
    key_created_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PasswordHistory(Model):
    """Earlier password hashes of a user, so a new password cannot repeat a recent one."""

    __tablename__ = "sec_password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoleSecurity(Model):
    """An IP allowlist for every user holding a role."""

    __tablename__ = "sec_role_security"

    role_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_role.id", ondelete="CASCADE"), primary_key=True
    )
    allowed_ips: Mapped[str | None] = mapped_column(Text, nullable=True)


class Signature(Model):
    """An SM2 signature over the SM3 digest of what a user submitted or approved (non-repudiation)."""

    __tablename__ = "sec_signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(64), index=True)  # e.g. fm_submission
    object_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(32))  # submit | review | approve | reject | report
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str | None] = mapped_column(String(256), nullable=True)
    digest: Mapped[str] = mapped_column(String(64))  # SM3 of the canonical content
    signature: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)
    content: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # what was signed (canonical form)
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LogRecord(Model):
    """A stored log line: operation, system, error, security or interface (spec 6.7.2)."""

    __tablename__ = "sec_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # operation|system|error|security|interface
    level: Mapped[str] = mapped_column(String(16), default="INFO")
    logger: Mapped[str | None] = mapped_column(String(200), nullable=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(256), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
