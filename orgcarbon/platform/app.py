"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from orgcarbon.config import SETTINGS, flask_config, resolve_settings


def load_settings(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Defaults → ORGCARBON_* environment → overrides; refuse to start without secrets in production."""
    overrides = dict(overrides or {})
    # Names of orgcarbon settings go through resolution; anything else is a raw Flask key (tests).
    known = {s.name for s in SETTINGS}
    flask_keys = {k: overrides.pop(k) for k in list(overrides) if k not in known}
    values = resolve_settings(overrides)
    app.instance_path = values["INSTANCE_PATH"]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(flask_config(values))
    app.config.update(flask_keys)
    logging.basicConfig(level=values["LOG_LEVEL"])
    # FAB warns at every start that it cannot filter relationship columns of its own user views.
    logging.getLogger("flask_appbuilder.models.filters").setLevel(logging.ERROR)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the web application; ``overrides`` win over every other setting (tests)."""
    from orgcarbon.accounting.views import register_accounting
    from orgcarbon.analysis.views import register_analysis
    from orgcarbon.collection.views import register_collection
    from orgcarbon.forms.admin_views import register_form_admin
    from orgcarbon.forms.import_views import register_imports
    from orgcarbon.forms.views import register_forms
    from orgcarbon.metamodel.register import register_metamodel
    from orgcarbon.platform.errors import register_error_pages
    from orgcarbon.platform.extensions import register_extensions
    from orgcarbon.platform.metadata import all_metadata
    from orgcarbon.platform.views import register_views
    from orgcarbon.quality.views import register_quality
    from orgcarbon.regimes.views import register_regimes
    from orgcarbon.reports.register import register_reports
    from orgcarbon.security.setup import limit_api_login, register_security
    from orgcarbon.security.views import register_security_views

    all_metadata()                          # every model imported, so cross-package foreign keys resolve
    app = Flask("orgcarbon.platform", instance_relative_config=True)
    load_settings(app, overrides)           # refuse missing secrets in production
    register_security(app)                  # audit listener, idle timeout, password rules
    appbuilder = register_extensions(app)   # db, migrate, appbuilder + babel, celery
    limit_api_login(app)                    # login rate limit on the REST login as on the form
    register_error_pages(app)               # Chinese error pages, JSON errors under /api/
    with app.app_context():
        register_metamodel(appbuilder)      # generated views and APIs of every metamodel entity
        register_views(appbuilder)          # health, audit log; later: forms, reports
        register_accounting(appbuilder)     # results with lineage, explain, the accounting task
        register_analysis(appbuilder)       # 碳全景, 碳账本, 碳比对 over the stored results
        register_regimes(appbuilder)        # 多口径: 全国碳市场, CBAM, 口径对账 from the same records
        register_collection(appbuilder)     # 系统采集: connectors, API clients, interface log, ingest API
        register_quality(appbuilder)        # 数据质量: rules as versioned data, dry runs, scorecard
        register_forms(appbuilder)          # 数据填报: 我的填报, 审核队列, 期间管理 and /api/v1/forms/
        register_form_admin(appbuilder)     # 表单管理: form definitions, sections, fields
        register_imports(appbuilder)        # Excel 导入, 导入记录 and /api/v1/forms/imports/
        register_reports(appbuilder)        # 报告模板 and 报告: templates, checks, rendering, signed files
        register_security_views(appbuilder) # 日志管理 and IP 白名单 (after the others: menu order)
    return app
