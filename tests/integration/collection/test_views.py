"""系统采集 pages: connectors and API clients as data, secrets encrypted, the searchable interface log."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orgcarbon.collection.keys import open_client_secret, open_connector_secrets
from orgcarbon.collection.models import ApiClient, ConnectorInstance, InterfaceLog
from orgcarbon.collection.store import write_log
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingRow
from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.collection.conftest import org_id
from tests.integration.collection.test_sync import MAPPING, SERVICE
from tests.integration.connectors.conftest import mock_sap  # noqa: F401  # the real OData server


def signed_in(app: Flask, username: str = "admin") -> FlaskClient:
    client = app.test_client()
    password = ADMIN_PASSWORD if username == "admin" else f"Demo-{username}-1"
    login(client, username, password)
    return client


def odata_form(app: Flask, base: str, **extra: Any) -> dict[str, str]:
    with app.app_context():
        east = org_id("东区")
    return {"type": "odata", "name": "SAP 物料主数据", "organization_id": str(east), "schedule_minutes": "15",
            "enabled": "1", "cfg.service_url": base + SERVICE, "cfg.entity_set": "A_Product",
            "cfg.watermark_field": "LastChangeDate", "cfg.select": "", "cfg.page_size": "500",
            "cfg.password": "s3cret-pw", "cfg.username": "sapuser",
            "mapping": json.dumps(MAPPING, ensure_ascii=False), **extra}


def test_connector_form_is_generated_validated_and_keeps_secrets_encrypted(app: Flask, mock_sap: str) -> None:  # noqa: F811
    """The OData form shows the Chinese labels; bad mapping/config are refused with their position."""
    client = signed_in(app)
    page = client.get("/collection/connectors/add?type=odata").get_data(as_text=True)
    assert "服务地址" in page and "增量字段" in page and 'type="password"' in page

    bad_json = client.post("/collection/connectors/add", data=odata_form(app, mock_sap, mapping='{"fields": {'))
    assert "映射不是有效的 JSON：第 1 行第 13 列" in bad_json.get_data(as_text=True)
    no_unit = dict(MAPPING, fields={k: v for k, v in MAPPING["fields"].items() if k != "unit"})
    refused = client.post("/collection/connectors/add",
                          data=odata_form(app, mock_sap, mapping=json.dumps(no_unit), **{"cfg.page_size": "0"}))
    text = refused.get_data(as_text=True)
    assert "配置项“fields.unit”：必须映射单位" in text and "page_size（每页行数）" in text
    with app.app_context():
        assert db.session.scalar(select(ConnectorInstance)) is None

    saved = client.post("/collection/connectors/add", data=odata_form(app, mock_sap), follow_redirects=True)
    assert "已保存连接器“SAP 物料主数据”" in saved.get_data(as_text=True)
    with app.app_context():
        instance = db.session.scalar(select(ConnectorInstance))
        assert "password" not in instance.config and "s3cret-pw" not in (instance.secret or "")
        assert open_connector_secrets(instance.secret) == {"password": "s3cret-pw"}
        assert (instance.schedule_minutes, instance.config["username"]) == (15, "sapuser")
        pk = instance.id
    # Edit with the password left empty keeps the stored one.
    client.post(f"/collection/connectors/edit/{pk}", data=odata_form(app, mock_sap, **{"cfg.password": ""}))
    with app.app_context():
        assert open_connector_secrets(db.session.get(ConnectorInstance, pk).secret) == {"password": "s3cret-pw"}

    checked = client.post(f"/collection/connectors/check/{pk}", follow_redirects=True).get_data(as_text=True)
    assert "连接正常" in checked
    synced = client.post(f"/collection/connectors/sync/{pk}", follow_redirects=True).get_data(as_text=True)
    assert "同步完成：读取" in synced
    with app.app_context():
        assert db.session.scalar(select(StagingRow.connector_id).limit(1)) == pk
        assert db.session.scalar(select(InterfaceLog.connector_id)) == pk
    deleted = client.post(f"/collection/connectors/delete/{pk}", follow_redirects=True).get_data(as_text=True)
    assert "已有暂存数据，不能删除" in deleted


def test_check_reports_mapping_fields_missing_in_the_source(app: Flask, mock_sap: str) -> None:  # noqa: F811
    """测试连接 compares the mapping with the entity set's fields."""
    client = signed_in(app)
    mapping = dict(MAPPING, fields={**MAPPING["fields"], "quantity": {"field": "NetWeightX"}})
    client.post("/collection/connectors/add", data=odata_form(app, mock_sap, mapping=json.dumps(mapping)))
    with app.app_context():
        pk = db.session.scalar(select(ConnectorInstance.id))
    text = client.post(f"/collection/connectors/check/{pk}", follow_redirects=True).get_data(as_text=True)
    assert "映射与数据源字段不符" in text and "源数据中没有字段“NetWeightX”" in text


def test_api_client_secret_is_shown_once_and_stored_encrypted(app: Flask) -> None:
    """Adding a client shows its HMAC secret once; the database holds only the encrypted form."""
    client = signed_in(app, "modeller")
    with app.app_context():
        east = org_id("东区")
    form = {"client_id": "east-mes", "name": "东区 MES", "organization_id": str(east), "hmac": "1",
            "allowed_ips": "10.0.0.0/8, 127.0.0.1", "enabled": "1"}
    bad = client.post("/collection/clients/add", data={**form, "allowed_ips": "10.0.0.300"})
    assert "“10.0.0.300”不是有效的 IP 地址或网段" in bad.get_data(as_text=True)
    page = client.post("/collection/clients/add", data=form).get_data(as_text=True)
    start = page.index('id="client-secret"')
    secret = page[page.index(">", start) + 1 : page.index("</pre>", start)]
    with app.app_context():
        stored = db.session.scalar(select(ApiClient))
        assert secret not in stored.hmac_secret and open_client_secret(stored.hmac_secret) == secret.encode()
    listing = client.get("/collection/clients/").get_data(as_text=True)
    assert "east-mes" in listing and secret not in listing and "dev-" in listing  # the server key id
    client.post(f"/collection/clients/edit/{stored.id}", data={**form, "name": "东区 MES 2"})
    with app.app_context():
        again = db.session.scalar(select(ApiClient))
        assert again.name == "东区 MES 2" and open_client_secret(again.hmac_secret) == secret.encode()


def test_interface_log_is_searchable_and_scoped(app: Flask) -> None:
    """Filters by kind, status and date; a user of 东区 does not see 西区's entries."""
    import datetime as dt

    with app.app_context():
        for org, status, day in (("东区", "success", 1), ("东区", "refused", 2), ("西区", "failed", 3)):
            write_log(db.session, kind="push", status=status, organization_id=org_id(org),
                      started_at=dt.datetime(2025, 6, day, 8, tzinfo=dt.UTC), error=f"{org}-{status}")
        db.session.commit()
    admin = signed_in(app)
    assert admin.get("/collection/log/?status=refused").get_data(as_text=True).count("东区-refused") == 1
    ranged = admin.get("/collection/log/?date_from=2025-06-02&date_to=2025-06-03").get_data(as_text=True)
    assert "东区-refused" in ranged and "西区-failed" in ranged and "东区-success" not in ranged
    viewer = signed_in(app, "auditor")  # reads every area; the demo auditor is at 华钢集团
    assert "西区-failed" in viewer.get("/collection/log/").get_data(as_text=True)


def test_permissions_follow_the_connectors_area(app: Flask) -> None:
    """The auditor reads but cannot change; the read-only viewer has no access to 系统采集."""
    auditor = signed_in(app, "auditor")
    assert auditor.get("/collection/connectors/").status_code == 200
    assert auditor.get("/collection/connectors/add?type=odata").status_code in (302, 403)
    viewer = signed_in(app, "viewer")
    assert viewer.get("/collection/log/").status_code in (302, 403)
