"""Registry and config schemas: built-in types registered; bad configs refused in Chinese by field."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from orgcarbon.connectors import (
    ConfigError,
    FileWatermarkStore,
    RetryPolicy,
    Watermark,
    connector_types,
    create_connector,
)
from orgcarbon.connectors.odata import ODataConfig, odata_literal


def test_builtin_types_are_registered() -> None:
    assert {"odata", "mqtt", "files"} <= set(connector_types())
    assert connector_types()["odata"].config_schema is ODataConfig


@pytest.mark.parametrize(
    ("type_name", "config", "fragment"),
    [
        (
            "odata",
            {"entity_set": "A", "watermark_field": "W"},
            "配置项“service_url（服务地址）”：必填",
        ),
        ("odata", {"service_url": "ftp://x", "entity_set": "A", "watermark_field": "W"}, "http://"),
        (
            "odata",
            {
                "service_url": "http://x/",
                "entity_set": "A",
                "watermark_field": "W",
                "page_size": "9",
            },
            "page_size（每页行数）”：应为整数",
        ),
        (
            "odata",
            {"service_url": "http://x/", "entity_set": "A", "watermark_field": "W", "pagesize": 9},
            "“pagesize”：未知配置项",
        ),
        ("mqtt", {"host": "127.0.0.1", "topics": {}}, "至少订阅一个主题"),
        ("mqtt", {"host": "127.0.0.1", "topics": {"a/#": "x"}, "when_full": "drop"}, "when_full"),
        ("files", {"folder": "/tmp", "log_pattern": "(unclosed"}, "正则表达式无效"),
        ("nope", {}, "未知连接器类型“nope”"),
    ],
)
def test_bad_configs_name_the_field(type_name: str, config: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        create_connector(type_name, "c", config)
    assert fragment in str(caught.value)


def test_odata_literals_and_watermark_round_trip(tmp_path: Any) -> None:
    """Watermarks become OData v2 literals; the file store keeps them across processes."""
    assert (
        odata_literal("Edm.DateTime", "2025-01-04T00:00:00.145000+00:00")
        == "datetime'2025-01-04T00:00:00.145'"
    )
    assert odata_literal("Edm.String", "O'Neil") == "'O''Neil'"
    assert odata_literal("Edm.Decimal", "1.50") == "1.50M"
    store = FileWatermarkStore(tmp_path / "wm.json")
    mark = Watermark("2025-01-04T00:00:00+00:00", frozenset({"('A')", "('B')"}))
    store.save("c1", mark)
    assert FileWatermarkStore(tmp_path / "wm.json").load("c1") == mark
    assert RetryPolicy(attempts=5, base_s=1, max_s=5).delays() == [1, 2, 4, 5]


def test_package_imports_neither_flask_nor_sqlalchemy() -> None:
    code = "import sys, orgcarbon.connectors; print(sorted(m for m in ('flask', 'sqlalchemy') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
