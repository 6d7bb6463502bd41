"""The built-in roles and their permissions, as data.

Every view and API of orgcarbon declares a permission *area* (Flask-AppBuilder's
``class_permission_name``) and maps its methods onto ``can_read`` / ``can_write``
(``method_permission_name``), so a role is a short list of areas with the access it has there.
``sync_roles`` seeds these into the database on ``orgcarbon init``; after that administrators edit
roles in 安全 → 角色列表 and a later ``init`` only adds what is missing, never takes away.
"""

from __future__ import annotations

from dataclasses import dataclass

READ = "can_read"
WRITE = "can_write"

# Method → permission mapping shared by every generated view and API.
METHOD_PERMISSIONS: dict[str, str] = {
    # ModelView (HTML)
    "list": "read",
    "show": "read",
    "download": "read",
    "add": "write",
    "edit": "write",
    "delete": "write",
    "action": "write",
    "action_post": "write",
    "api": "read",
    "api_read": "read",
    "api_get": "read",
    "api_column_add": "write",
    "api_column_edit": "write",
    "api_readvalues": "read",
    "api_create": "write",
    "api_update": "write",
    "api_delete": "write",
    # ModelRestApi
    "get": "read",
    "get_list": "read",
    "info": "read",
    "post": "write",
    "put": "write",
    "bulk_delete": "write",
    # Custom pages
    "index": "read",
}


@dataclass(frozen=True)
class Area:
    """A permission area: a group of pages and APIs that roles get access to together."""

    name: str
    label: str
    description: str


AREAS: tuple[Area, ...] = (
    Area("Audit", "审计日志", "数据变更日志、登录日志、接口日志"),
    Area("Metamodel", "排放模型", "组织、工序、物料、单位、排放因子、公式、绑定、核算模型"),
    Area("Rules", "规则", "清洗与校验规则、规则测试"),
    Area("DataEntry", "数据填报", "表单填报、Excel 导入、证据附件"),
    Area("Review", "数据审核", "审核、批准、驳回、期间锁定"),
    Area("Results", "核算结果", "核算结果、溯源、重算"),
    Area("Reports", "报告", "报告模板、报告生成与签名"),
    Area("Analysis", "碳分析", "碳全景、碳账本、碳比对"),
    Area("Connectors", "系统采集", "接口配置、同步任务、接口日志"),
)

ADMIN_ROLE = "系统管理员"
RO = (READ,)
RW = (READ, WRITE)

# role → {area: permissions}. 系统管理员 has every permission (AUTH_ROLE_ADMIN) and is not listed.
ROLE_MATRIX: dict[str, dict[str, tuple[str, ...]]] = {
    "建模管理员": {"Metamodel": RW, "Rules": RW, "Results": RW, "Connectors": RW, "Analysis": RO, "Reports": RO},
    "数据填报员": {"DataEntry": RW, "Metamodel": RO, "Results": RO, "Analysis": RO},
    "数据审核员": {"Review": RW, "DataEntry": RO, "Metamodel": RO, "Results": RO, "Analysis": RO},
    "报告顾问": {"Reports": RW, "Metamodel": RO, "Results": RO, "Analysis": RO},
    "审计员": {area.name: RO for area in AREAS},
    "只读用户": {"Metamodel": RO, "Results": RO, "Reports": RO, "Analysis": RO},
}

ROLE_DESCRIPTIONS: dict[str, str] = {
    ADMIN_ROLE: "全部权限：用户、角色、权限、系统设置",
    "建模管理员": "维护排放模型（组织、工序、物料、因子、公式）与规则",
    "数据填报员": "填报表单、导入 Excel、上传证据",
    "数据审核员": "审核与批准填报数据",
    "报告顾问": "维护报告模板、生成报告",
    "审计员": "只读查看全部业务数据与日志",
    "只读用户": "只读查看模型、结果、报告与分析",
}

# Reading sensitive fields (contact phone and e-mail) in clear. Without it pages and API answers
# show them masked (138****5678). Not an area of the matrix: no page belongs to it.
SENSITIVE_PERMISSION: tuple[str, str] = (READ, "SensitiveData")
SENSITIVE_ROLES: tuple[str, ...] = ("建模管理员", "报告顾问")

# Security settings (IP allowlists, user security state): administrators only, like 安全.
SECURITY_AREA = "SecuritySettings"

# What every signed-in user may do on their own account, whatever their role.
SELF_SERVICE: tuple[tuple[str, str], ...] = (
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
)


def area_label(name: str) -> str:
    """Chinese label of an area, or the name itself if unknown."""
    return next((a.label for a in AREAS if a.name == name), name)


def matrix_markdown() -> str:
    """The permission matrix as a Markdown table (docs/permissions.md is generated from it)."""
    roles = [ADMIN_ROLE, *ROLE_MATRIX]
    lines = ["| 区域 (area) | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for area in AREAS:
        cells = ["读写"]
        for role in ROLE_MATRIX:
            perms = ROLE_MATRIX[role].get(area.name, ())
            cells.append("读写" if WRITE in perms else "只读" if READ in perms else "—")
        lines.append(f"| {area.label} ({area.name}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)
