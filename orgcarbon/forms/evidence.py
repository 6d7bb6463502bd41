"""Evidence files (化验单、发票、计量照片) and kept originals: stored by SM3 digest under the instance folder.

A file is written once under ``<instance>/<folder>/<sm3[:2]>/<sm3><ext>``; the database row keeps
its name, size, type and digest, so a file can be checked later against its digest
(``verify_file``). The same content stored twice is one file on disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from orgcarbon.forms.models import Evidence, Submission, WorkflowEvent
from orgcarbon.forms.periods import WorkflowError
from orgcarbon.security.crypto.sm3 import sm3_hex

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024
ALLOWED_EXTENSIONS = frozenset({".pdf", ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".xlsx", ".xls",
                                ".docx", ".doc", ".csv", ".txt", ".ofd", ".zip"})


@dataclass(frozen=True)
class StoredFile:
    """A file kept on disk: its digest, size and path relative to the instance folder."""

    sm3: str
    size: int
    relative_path: str


def store_file(instance_path: str | os.PathLike[str], folder: str, filename: str, content: bytes) -> StoredFile:
    """Keep ``content`` by its SM3 digest (idempotent) and return where it is."""
    digest = sm3_hex(content)
    ext = Path(filename).suffix.lower()[:10]
    relative = Path(folder) / digest[:2] / f"{digest}{ext}"
    target = Path(instance_path) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(content)
        os.replace(tmp, target)
    return StoredFile(digest, len(content), relative.as_posix())


def verify_file(instance_path: str | os.PathLike[str], relative_path: str, sm3: str) -> bool:
    """True when the kept file still has the digest recorded for it."""
    path = Path(instance_path) / relative_path
    return path.is_file() and sm3_hex(path.read_bytes()) == sm3


def add_evidence(session: Session, instance_path: str | os.PathLike[str], submission: Submission, filename: str,
                 content: bytes, user: Any, *, content_type: str | None = None, field_id: int | None = None,
                 note: str | None = None) -> Evidence:
    """Attach a file to a draft (or a submission under review); refused with a Chinese reason."""
    name = Path(filename or "").name.strip()
    if not name:
        raise WorkflowError("请选择要上传的文件")
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise WorkflowError(f"文件“{name}”的类型不允许；允许：{'、'.join(sorted(ALLOWED_EXTENSIONS))}")
    if not content:
        raise WorkflowError(f"文件“{name}”是空文件")
    if len(content) > MAX_EVIDENCE_BYTES:
        raise WorkflowError(f"文件“{name}”超过 {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB")
    if submission.status not in ("draft",):
        raise WorkflowError("只能给草稿上传证据材料")
    if field_id is not None and field_id not in {f.id for f in submission.form.fields}:
        raise WorkflowError("证据对应的字段不属于该表单")
    stored = store_file(instance_path, "evidence", name, content)
    evidence = Evidence(submission=submission, field_id=field_id, organization_id=submission.organization_id,
                        filename=name, content_type=content_type, size=stored.size, sm3=stored.sm3,
                        stored_path=stored.relative_path, note=note, uploaded_by_id=getattr(user, "id", None))
    session.add(evidence)
    session.add(WorkflowEvent(submission=submission, organization_id=submission.organization_id, action="evidence",
                              from_status=submission.status, to_status=submission.status,
                              user_id=getattr(user, "id", None), user_name=getattr(user, "username", None),
                              comment=name, details={"sm3": stored.sm3, "size": stored.size}))
    session.flush()
    return evidence


def remove_evidence(session: Session, evidence: Evidence, user: Any) -> None:
    """Detach a file from a draft (the kept file stays: it may be shared or referenced by history)."""
    submission = evidence.submission
    if submission.status != "draft":
        raise WorkflowError("只能从草稿删除证据材料")
    session.add(WorkflowEvent(submission=submission, organization_id=submission.organization_id,
                              action="evidence_remove", from_status=submission.status, to_status=submission.status,
                              user_id=getattr(user, "id", None), user_name=getattr(user, "username", None),
                              comment=evidence.filename, details={"sm3": evidence.sm3}))
    session.delete(evidence)
    session.flush()
