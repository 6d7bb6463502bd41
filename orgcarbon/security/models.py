"""Tables owned by the security package: the audit trail and per-user preferences."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String
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
