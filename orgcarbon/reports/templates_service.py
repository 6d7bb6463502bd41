"""Template management: upload a version (checked at once), activate it per organisation node,
find the version in force for a node, read a version's file, seed the built-in templates.

Pure SQLAlchemy: the caller passes the session and commits; every refusal raises
``TemplateRefused`` with Chinese reasons before anything is added to the session. Versions are
never changed after upload (a change is a new version); activations are audited by the ORM
listener, so replacing or removing one leaves its history in the audit trail.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.forms.evidence import store_file
from orgcarbon.forms.periods import ancestors_and_self
from orgcarbon.report_templates.builtin import BUILTIN
from orgcarbon.report_templates.checks import check_template
from orgcarbon.reports.models import KINDS, ReportTemplate, TemplateActivation, TemplateVersion
from orgcarbon.security.crypto.sm3 import sm3_hex
from orgcarbon.security.models import utcnow
from orgcarbon.security.scope import org_scope

FOLDER = "report_templates"  # under the instance folder, files kept by SM3
MAX_TEMPLATE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # a template that unpacks to more is refused (zip bomb)
EXTENSIONS = (".docx", ".xlsx", ".xlsm")
DEFAULT_STANDARD = "GB/T 32151.5-2015"
KIND_LABELS = {"report": "报告（Word/Excel）", "tables": "报表（补充数据表、政府表格）"}
STATUS_LABELS = {"uploaded": "待检查", "checked": "检查通过", "failed": "检查未通过"}
SEVERITY_LABELS = {"error": "错误", "warning": "提示"}
# name → (kind, authority, description) of the shipped templates (files in report_templates/builtin)
BUILTIN_META = {
    "gbt32151.5-report": ("report", "国家标准（全国通用）", "内置：GB/T 32151.5 温室气体排放报告（Word）"),
    "gbt32151.5-tables": ("tables", "国家标准（全国通用）", "内置：GB/T 32151.5 补充数据表（Excel）"),
}
_OFFICE_PART = {".docx": "word/document.xml", ".xlsx": "xl/workbook.xml", ".xlsm": "xl/workbook.xml"}


class TemplateRefused(ValueError):
    """An upload or activation was refused; ``reasons`` are Chinese sentences for the user."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("；".join(reasons))
        self.reasons = list(reasons)


@dataclass(frozen=True)
class Upload:
    """What the user sent: the template's description and one file."""

    name: str
    authority: str | None
    standard: str | None
    kind: str
    filename: str
    content: bytes
    note: str | None = None


def _clean(text: str | None) -> str:
    return (text or "").strip()


def _file_problems(filename: str, content: bytes) -> list[str]:
    """Why a file cannot be a template (extension, size, not an Office file); empty if fine."""
    ext = Path(filename).suffix.lower()
    if ext not in EXTENSIONS:
        return [f"文件“{filename}”的类型不支持：模板只能是 .docx（Word）、.xlsx 或 .xlsm（Excel）"]
    if not content:
        return [f"文件“{filename}”是空文件"]
    if len(content) > MAX_TEMPLATE_BYTES:
        return [f"文件“{filename}”超过 {MAX_TEMPLATE_BYTES // (1024 * 1024)} MB"]
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            unpacked = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return [f"文件“{filename}”不是有效的 Office 文件（无法作为 {ext} 打开），请在 Word / Excel 中另存为 {ext} 后上传"]
    if "[Content_Types].xml" not in names or _OFFICE_PART[ext] not in names:
        kind = "Word 文档" if ext == ".docx" else "Excel 工作簿"
        return [f"文件“{filename}”不是 {kind}（缺少 {_OFFICE_PART[ext]}），请确认扩展名与文件内容一致"]
    if unpacked > MAX_UNPACKED_BYTES:
        return [f"文件“{filename}”解压后超过 {MAX_UNPACKED_BYTES // (1024 * 1024)} MB，不能作为模板"]
    return []


def validate_upload(upload: Upload) -> list[str]:
    """Every reason the upload is refused (field named in each), or an empty list."""
    reasons: list[str] = []
    name = _clean(upload.name)
    if not name:
        reasons.append("模板名称：必填")
    elif len(name) > 200:
        reasons.append("模板名称：最多 200 个字符")
    if len(_clean(upload.authority)) > 200:
        reasons.append("地区或主管部门：最多 200 个字符")
    if len(_clean(upload.standard)) > 100:
        reasons.append("核算标准：最多 100 个字符")
    if upload.kind not in KINDS:
        reasons.append(f"模板类型：应为 {'、'.join(KIND_LABELS.values())} 之一")
    filename = Path(upload.filename or "").name.strip()
    if not filename:
        reasons.append("模板文件：请选择要上传的文件")
    elif len(filename) > 255:
        reasons.append("模板文件：文件名最多 255 个字符")
    else:
        reasons += [f"模板文件：{r}" for r in _file_problems(filename, upload.content)]
    return reasons


def check_result(content: bytes, filename: str) -> tuple[str, list[dict[str, Any]]]:
    """Run the template check: (status ``checked`` | ``failed``, issues as plain dicts)."""
    report = check_template(content, filename)
    issues = [
        {"severity": i.severity, "code": i.code, "message": i.message, "location": i.location, "text": i.text}
        for i in report.issues
    ]
    return ("checked" if report.ok else "failed"), issues


def _add_version(session: Session, instance_path: str | os.PathLike[str], template: ReportTemplate,
                 filename: str, content: bytes, user: Any, note: str | None) -> TemplateVersion:
    stored = store_file(instance_path, FOLDER, filename, content)
    status, issues = check_result(content, filename)
    latest = session.scalar(select(func.max(TemplateVersion.version)).where(TemplateVersion.template_id == template.id))
    version = TemplateVersion(
        template=template, version=(latest or 0) + 1, filename=filename, file_path=stored.relative_path,
        sm3=stored.sm3, size=stored.size, status=status, check_result=issues,
        checked_at=utcnow(), note=_clean(note) or None, uploaded_by_id=getattr(user, "id", None),
    )
    session.add(version)
    session.flush()
    return version


def upload_version(session: Session, instance_path: str | os.PathLike[str], *, name: str, authority: str | None,
                   standard: str | None, kind: str, filename: str, content: bytes, user: Any,
                   note: str | None = None) -> TemplateVersion:
    """Store a new template (version 1) or the next version of the template of that name, checked."""
    upload = Upload(name, authority, standard, kind, filename, content, note)
    reasons = validate_upload(upload)
    if reasons:
        raise TemplateRefused(*reasons)
    name, filename = _clean(name), Path(filename).name.strip()
    template = session.scalar(select(ReportTemplate).where(ReportTemplate.name == name))
    if template is None:
        template = ReportTemplate(name=name, authority=_clean(authority) or None,
                                  standard=_clean(standard) or DEFAULT_STANDARD, kind=kind,
                                  created_by_id=getattr(user, "id", None))
        session.add(template)
        session.flush()
    else:
        _check_next_version(session, template, kind, content)
        if _clean(authority):
            template.authority = _clean(authority)
        if _clean(standard):
            template.standard = _clean(standard)
    return _add_version(session, instance_path, template, filename, content, user, note)


def _check_next_version(session: Session, template: ReportTemplate, kind: str, content: bytes) -> None:
    """Refuse a new version of a built-in template, of another kind, or identical to an old one."""
    if template.builtin:
        raise TemplateRefused(f"模板名称：“{template.name}”是内置模板，不能上传新版本；"
                              "请下载后修改，再用新的模板名称上传")
    if template.kind != kind:
        raise TemplateRefused(f"模板类型：模板“{template.name}”的类型是{KIND_LABELS[template.kind]}，"
                              f"新版本不能改为{KIND_LABELS.get(kind, kind)}")
    digest = sm3_hex(content)
    same = session.scalar(select(TemplateVersion.version).where(TemplateVersion.template_id == template.id,
                                                                TemplateVersion.sm3 == digest))
    if same is not None:
        raise TemplateRefused(f"模板文件：与“{template.name}”第 {same} 版的文件完全相同（SM3 一致），未创建新版本")


def activate(session: Session, template_version: TemplateVersion, organization_id: int,
             user: Any) -> TemplateActivation:
    """Make ``template_version`` the one its template uses at ``organization_id`` and below."""
    version = template_version
    label = f"“{version.template.name}”第 {version.version} 版"
    if version.status != "checked":
        if version.status == "failed":
            errors = sum(1 for i in version.check_result or [] if i.get("severity") == "error")
            raise TemplateRefused(f"{label}未通过模板检查（{errors} 个错误），不能启用；请修正后上传新版本")
        raise TemplateRefused(f"{label}尚未检查，不能启用")
    from orgcarbon.metamodel.models import Organization

    org = session.get(Organization, organization_id)
    scope = org_scope(user, session)
    if org is None or not scope.can_read(organization_id):
        # One answer for "no such node" and "not yours", without the node's name: neither may leak.
        raise TemplateRefused(f"组织：编号 {organization_id} 不存在或不在您的数据范围内，不能为其启用模板")
    if not scope.can_write(organization_id):
        raise TemplateRefused(f"组织：“{org.name}”不在您可修改的数据范围内，不能为其启用模板")
    activation = session.scalar(select(TemplateActivation).where(
        TemplateActivation.template_id == version.template_id, TemplateActivation.organization_id == organization_id))
    if activation is None:
        activation = TemplateActivation(template_id=version.template_id, organization_id=organization_id)
        session.add(activation)
    activation.version_id = version.id
    activation.activated_by_id = getattr(user, "id", None)
    activation.activated_at = utcnow()
    session.flush()
    return activation


def deactivate(session: Session, activation: TemplateActivation, user: Any) -> None:
    """Remove an activation: the node then uses what its ancestors activated (or the built-in)."""
    if not org_scope(user, session).can_write(activation.organization_id):
        raise TemplateRefused("组织：不在您的数据范围内，不能取消其模板启用")
    session.delete(activation)
    session.flush()


def active_version(session: Session, organization_id: int, kind: str) -> TemplateVersion | None:
    """The version in force for a node: the nearest node up the tree with an activation of a
    template of ``kind``; at one node the most recent activation wins. None: use the built-in."""
    chain = ancestors_and_self(session, organization_id)
    if not chain:
        return None
    rows = session.execute(
        select(TemplateActivation.organization_id, TemplateActivation.version_id)
        .join(ReportTemplate, ReportTemplate.id == TemplateActivation.template_id)
        .where(TemplateActivation.organization_id.in_(chain), ReportTemplate.kind == kind)
        .order_by(TemplateActivation.activated_at.desc(), TemplateActivation.id.desc())
    ).all()
    for node in chain:
        found = next((version_id for org_id, version_id in rows if org_id == node), None)
        if found is not None:
            return session.get(TemplateVersion, found)
    return None


def effective_versions(session: Session, template: ReportTemplate, organization_ids: list[int]
                       ) -> dict[int, tuple[TemplateActivation, bool]]:
    """For each node, the activation of ``template`` it uses and whether it is inherited."""
    activations = {a.organization_id: a for a in session.scalars(
        select(TemplateActivation).where(TemplateActivation.template_id == template.id))}
    found: dict[int, tuple[TemplateActivation, bool]] = {}
    for node in organization_ids:
        for ancestor in ancestors_and_self(session, node):
            if ancestor in activations:
                found[node] = (activations[ancestor], ancestor != node)
                break
    return found


def version_path(instance_path: str | os.PathLike[str], version: TemplateVersion) -> Path:
    """Where the version's file is kept (refuses paths that leave the template folder)."""
    root = (Path(instance_path) / FOLDER).resolve()
    path = (Path(instance_path) / version.file_path).resolve()
    if root not in path.parents:
        raise TemplateRefused(f"模板文件路径无效：{version.file_path}")
    return path


def template_bytes(instance_path: str | os.PathLike[str], version: TemplateVersion) -> bytes:
    """The version's file, checked against its SM3 digest; ``TemplateRefused`` if missing or changed."""
    path = version_path(instance_path, version)
    if not path.is_file():
        raise TemplateRefused(f"模板文件缺失：{version.filename}（{version.file_path}），请重新上传")
    content = path.read_bytes()
    if sm3_hex(content) != version.sm3:
        raise TemplateRefused(f"模板文件 {version.filename} 的 SM3 摘要与上传时不符：文件已被修改，请重新上传")
    return content


def seed_builtin(session: Session, instance_path: str | os.PathLike[str]) -> list[TemplateVersion]:
    """Register the shipped templates as built-in rows (version 1); a changed shipped file becomes
    the next version. Idempotent; returns the versions added."""
    added: list[TemplateVersion] = []
    for name, (path, _, title) in BUILTIN.items():
        kind, authority, description = BUILTIN_META[name]
        content = path.read_bytes()
        template = session.scalar(select(ReportTemplate).where(ReportTemplate.name == name))
        if template is None:
            template = ReportTemplate(name=name, authority=authority, standard=DEFAULT_STANDARD, kind=kind,
                                      description=f"{title}（{description}）", builtin=True)
            session.add(template)
            session.flush()
        elif session.scalar(select(TemplateVersion.id).where(TemplateVersion.template_id == template.id,
                                                              TemplateVersion.sm3 == sm3_hex(content))):
            continue
        added.append(_add_version(session, instance_path, template, path.name, content, None,
                                  "随平台发布的内置模板"))
    return added
