"""Connector instances and API clients as data: check a submitted form, then store it.

The pages call these functions; every refusal is a Chinese message keyed by the form field it
belongs to, so the form is shown again with the message beside the input.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.collection.config_form import read_form
from orgcarbon.collection.keys import (
    new_client_secret,
    open_connector_secrets,
    seal_client_secret,
    seal_connector_secrets,
)
from orgcarbon.collection.models import ApiClient, ConnectorInstance
from orgcarbon.connectors import (
    ConfigError,
    ConnectionStatus,
    MappingError,
    connector_types,
    get_connector_type,
    parse_mapping,
    validate_config,
)
from orgcarbon.security.crypto import Sm2Error, normalize_public_key
from orgcarbon.security.scope import OrgScope

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{3,64}$")


class Refused(ValueError):
    """A form that cannot be stored; ``errors`` maps form fields to Chinese messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("；".join(errors.values()))
        self.errors = errors


def _organization(form: Mapping[str, str], scope: OrgScope, errors: dict[str, str]) -> int | None:
    try:
        org_id = int(form.get("organization_id") or "")
    except ValueError:
        errors["organization_id"] = "请选择组织"
        return None
    if not scope.can_write(org_id):
        errors["organization_id"] = "无权在该组织下配置（超出您的数据范围）"
    return org_id


def parse_mapping_text(text: str) -> dict[str, Any]:
    """The mapping JSON of the form, validated; raises ``Refused`` naming the position."""
    try:
        raw = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise Refused({"mapping": f"映射不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{exc.msg}"}) from None
    try:
        parse_mapping(raw)
    except MappingError as exc:
        raise Refused({"mapping": f"映射有误：{exc}"}) from None
    return dict(raw)


def save_connector(
    session: Session, instance: ConnectorInstance | None, form: Mapping[str, str], scope: OrgScope,
    user_id: int | None,
) -> ConnectorInstance:
    """Create or update a connector from the submitted form; commits. Raises ``Refused``."""
    errors: dict[str, str] = {}
    type_name = instance.type if instance is not None else (form.get("type") or "")
    if type_name not in connector_types():
        raise Refused({"type": "请选择连接器类型"})
    name = (form.get("name") or "").strip()
    if not name or len(name) > 200:
        errors["name"] = "名称必填，不超过 200 个字符"
    elif session.scalar(select(ConnectorInstance.id).where(
            ConnectorInstance.name == name, ConnectorInstance.id != (instance.id if instance else -1))):
        errors["name"] = f"已有名为“{name}”的连接器"
    org_id = _organization(form, scope, errors)
    schedule: int | None = None
    if (form.get("schedule_minutes") or "").strip():
        try:
            schedule = int(form["schedule_minutes"])
            if not 1 <= schedule <= 10080:
                raise ValueError
        except ValueError:
            errors["schedule_minutes"] = "同步间隔应为 1 到 10080 之间的整数（分钟），留空表示仅手动或订阅"
    stored = open_connector_secrets(instance.secret) if instance is not None else {}
    config: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    try:
        config, secret = read_form(type_name, form, stored)
        validate_config(get_connector_type(type_name).config_schema, {**config, **secret})
    except ConfigError as exc:
        errors["config"] = str(exc)
    try:
        mapping = parse_mapping_text(form.get("mapping") or "")
    except Refused as exc:
        errors.update(exc.errors)
    if errors:
        raise Refused(errors)
    target = instance or ConnectorInstance(type=type_name, created_by_id=user_id)
    target.name, target.organization_id, target.schedule_minutes = name, org_id, schedule  # type: ignore[assignment]
    target.config, target.secret, target.mapping = config, seal_connector_secrets(secret), mapping
    target.enabled = form.get("enabled") in ("1", "on", "true")
    target.note = (form.get("note") or "").strip() or None
    session.add(target)
    session.commit()
    return target


def check_connector(instance: ConnectorInstance) -> ConnectionStatus:
    """测试连接: the connector's own check, then the mapping against the source's fields."""
    from orgcarbon.collection.runner import build_connector

    try:
        connector = build_connector(instance)
    except ConfigError as exc:
        return ConnectionStatus(False, f"配置有误：{exc}")
    try:
        status = connector.check()
    finally:
        connector.close()
    fields = status.details.get("properties") if status.ok else None
    if fields:
        try:
            parse_mapping(instance.mapping, source_fields=fields)
        except MappingError as exc:
            return ConnectionStatus(False, f"连接正常，但映射与数据源字段不符：{exc}", status.latency_ms,
                                    status.details)
    return status


def save_client(
    session: Session, client: ApiClient | None, form: Mapping[str, str], scope: OrgScope,
    user_id: int | None,
) -> tuple[ApiClient, str | None]:
    """Create or update an API client; returns it and a new HMAC secret to show once (or None)."""
    errors: dict[str, str] = {}
    client_id = client.client_id if client is not None else (form.get("client_id") or "").strip()
    if client is None:
        if not _CLIENT_ID.match(client_id):
            errors["client_id"] = "客户端编号应为 3–64 个字母、数字或 . _ ~ -"
        elif session.scalar(select(ApiClient.id).where(ApiClient.client_id == client_id)):
            errors["client_id"] = f"客户端编号“{client_id}”已存在"
    name = (form.get("name") or "").strip()
    if not name or len(name) > 200:
        errors["name"] = "名称必填，不超过 200 个字符"
    org_id = _organization(form, scope, errors)
    public_key = (form.get("public_key") or "").strip() or None
    if public_key:
        try:
            public_key = normalize_public_key(public_key)
        except (Sm2Error, ValueError):
            errors["public_key"] = "SM2 公钥应为 128 或 130 位十六进制（04 开头的未压缩格式）"
    allowed = (form.get("allowed_ips") or "").replace("，", ",").strip()
    for rule in (r.strip() for r in allowed.split(",") if r.strip()):
        try:
            ipaddress.ip_network(rule, strict=False)
        except ValueError:
            errors["allowed_ips"] = f"“{rule}”不是有效的 IP 地址或网段"
    wants_secret = form.get("hmac") in ("1", "on", "true")
    if not public_key and not wants_secret:
        errors["public_key"] = "至少需要 SM2 公钥或 HMAC 密钥之一，用于验证签名"
    if errors:
        raise Refused(errors)
    target = client or ApiClient(client_id=client_id, created_by_id=user_id)
    target.name, target.organization_id, target.public_key = name, org_id, public_key  # type: ignore[assignment]
    target.allowed_ips = allowed or None
    target.server_key_id = (form.get("server_key_id") or "").strip() or None
    target.enabled = form.get("enabled") in ("1", "on", "true")
    secret: str | None = None
    if wants_secret and (client is None or not client.hmac_secret or form.get("rotate_secret")):
        secret = new_client_secret()
        target.hmac_secret = seal_client_secret(secret)
    elif not wants_secret:
        target.hmac_secret = None
    session.add(target)
    session.commit()
    return target, secret
