"""Sign a report file, and verify a file someone hands in: by its SM3, against the stored signature.

Each ``ReportFile`` is signed with ``security.signatures.sign_action`` as the requesting user
(object ``rp_report_file`` #id, action ``sign``): the signed content names the report, the run, the
organisation and year, the file name, its SM3 digest and size, whether the report is final and who
signed. The ``SignedDigest`` is also kept on the file row. Verification recomputes the SM3 of the
bytes, finds the file rows with that digest and checks the signature with the signer's registered
SM2 key (never the key copied into the record), so a changed byte, a changed record or a foreign
key all fail.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.accounting.models import AccountingRun
from orgcarbon.reports.models import Report, ReportFile
from orgcarbon.security.crypto import sm3_hex
from orgcarbon.security.models import Signature

OBJECT_TYPE, ACTION = "rp_report_file", "sign"
NOT_FOUND = "未找到与该文件摘要一致的已签名报告，文件可能被修改"


def signed_content(found: ReportFile, report: Report, run: AccountingRun, signer: str) -> dict[str, Any]:
    """What is signed for one report file."""
    return {
        "purpose": "report-file", "report_id": report.id, "file_id": found.id, "run_id": run.id,
        "organization_id": run.organization_id, "organization": run.organization.name, "year": run.year,
        "title": report.title, "filename": found.filename, "media_type": found.media_type, "sm3": found.sm3,
        "size": found.size, "final": bool(report.final),
        "inputs_digest": run.inputs_digest, "signer": signer,
    }


def sign_report_file(session: Session, found: ReportFile, report: Report, run: AccountingRun, user: Any) -> Signature:
    """Sign ``found`` as ``user`` and keep the ``SignedDigest`` on the row (committed by the caller)."""
    from orgcarbon.security.signatures import sign_action

    signature = sign_action(session, user, OBJECT_TYPE, found.id, ACTION,
                            signed_content(found, report, run, user.username))
    found.signature = json.loads(signature.signature)
    found.signed_by_id = user.id
    return signature


@dataclass
class Verification:
    """The outcome of verifying a file; ``message`` is the Chinese sentence to show."""

    ok: bool
    sm3: str
    message: str
    problems: list[str] = field(default_factory=list)
    report_id: int | None = None
    file_id: int | None = None
    run_id: int | None = None
    organization_id: int | None = None
    organization: str | None = None
    year: int | None = None
    title: str | None = None
    filename: str | None = None
    final: bool | None = None
    signer: str | None = None
    signed_at: str | None = None
    outdated_reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


def _check(session: Session, found: ReportFile, digest: str) -> tuple[Signature | None, str]:
    """The file's valid signature, or None and the Chinese reason it is not valid."""
    from orgcarbon.security.signatures import check_signature

    signatures = list(session.scalars(select(Signature).where(
        Signature.object_type == OBJECT_TYPE, Signature.object_id == found.id).order_by(Signature.id)))
    if not signatures:
        return None, "该文件没有签名记录"
    reason = ""
    for signature in signatures:
        content = signature.content or {}
        if content.get("sm3") != digest or content.get("file_id") != found.id \
                or content.get("report_id") != found.report_id:
            reason = "签名内容与文件记录不符"
            continue
        if found.signature is None or json.loads(signature.signature) != found.signature:
            reason = "文件记录中的签名与签名记录不一致"
            continue
        check = check_signature(session, signature)
        if check.ok:
            return signature, ""
        reason = check.reason
    return None, reason


def verify_file_bytes(session: Session, content: bytes) -> Verification:
    """Find the signed report file with the SM3 of ``content`` and check its signature."""
    from orgcarbon.reports.service import outdated_reasons

    digest = sm3_hex(content)
    candidates = list(session.scalars(select(ReportFile).where(ReportFile.sm3 == digest).order_by(ReportFile.id)))
    if not candidates:
        return Verification(False, digest, NOT_FOUND, [NOT_FOUND])
    problems = []
    for found in candidates:
        signature, reason = _check(session, found, digest)
        if signature is None:
            problems.append(f"报告 #{found.report_id} 的文件 {found.filename}：签名无效（{reason}）")
            continue
        report = found.report
        run = session.get(AccountingRun, report.run_id)
        content_of = signature.content or {}
        outdated = outdated_reasons(session, run, report.inputs_digest) if run is not None else ["核算结果已被删除"]
        signed_at = signature.signed_at.isoformat(timespec="seconds") if signature.signed_at else None
        kind = "正式报告" if report.final else "草稿"
        message = (f"验签通过：该文件是报告 #{report.id}《{report.title}》（{kind}）的文件 {found.filename}，"
                   f"来自核算结果 #{report.run_id}（{content_of.get('organization')}，{content_of.get('year')} 年），"
                   f"由 {signature.username} 于 {signed_at} 以 SM2 签名，SM3 摘要一致。")
        if outdated:
            message += "注意：该报告已过期（" + "；".join(outdated) + "）。"
        return Verification(
            True, digest, message, [], report.id, found.id, report.run_id, report.organization_id,
            content_of.get("organization"), content_of.get("year"), report.title, found.filename, bool(report.final),
            signature.username, signed_at, outdated,
        )
    return Verification(False, digest, "签名验证失败：" + "；".join(problems), problems)
