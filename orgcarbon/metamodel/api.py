"""REST APIs generated from the entity definitions: ``/api/v1/<entity>/`` with OpenAPI.

Refusals are answered as 4xx with the Chinese reason, never as FAB's 500: invalid input 422
(field → “标签：原因”), a change outside the data scope 403, a change to a frozen version 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from flask_appbuilder import ModelRestApi
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.exceptions import ApplyFilterException
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.wrappers import Response

from orgcarbon.metamodel.guards import (
    ScopeError,
    base_filters,
    check_change,
    check_scope,
    scoped_relation_filters,
)
from orgcarbon.metamodel.history import history_entries
from orgcarbon.metamodel.sensitive_input import keep_masked
from orgcarbon.metamodel.spec import Entity
from orgcarbon.metamodel.validation import FieldErrors
from orgcarbon.metamodel.versioning import VersionError, current_versions, new_version, publish
from orgcarbon.metamodel.views import AREA, PERMISSIONS
from orgcarbon.platform.extensions import db
from orgcarbon.security.scope import org_scope
from orgcarbon.security.sensitive import mask_rows


def _expanded(entity: Entity, names: list[str]) -> list[str]:
    by_name = {f.name: f for f in entity.fields}
    out: list[str] = []
    for name in names:
        field = by_name[name]
        out += [f"{name}.id", f"{name}.{field.relation}"] if field.relation else [name]
    return out


class MetamodelApi(ModelRestApi):
    """CRUD with the metamodel's validation, data scope and version lock."""

    _entity: Entity
    allow_browser_login = True
    class_permission_name = AREA
    method_permission_name = PERMISSIONS

    def _refused(self, exc: Exception) -> Response:
        db.session.rollback()
        if isinstance(exc, IntegrityError):
            return self.response_422(message="与已有记录重复或引用了不存在的记录（数据库约束），未保存")
        if isinstance(exc, FieldErrors):
            return self.response_422(message=exc.by_label({k: str(v) for k, v in self._entity.labels.items()}))
        if isinstance(exc, ScopeError):
            return self.response(403, message=str(exc))
        return self.response(409, message=str(exc))

    def get_list_headless(self, **kwargs: Any) -> Response:
        # PostgreSQL refuses a NUL character, a negative page or an id beyond its integer range in
        # the query; that is the caller's mistake (400), not a server error.
        try:
            return super().get_list_headless(**kwargs)
        except (DataError, ApplyFilterException):
            db.session.rollback()
            return self.response_400(message="查询参数无效：页码不能为负，数值不能超出范围，文本不能含控制字符")

    def post_headless(self) -> Response:
        try:
            return super().post_headless()
        except (FieldErrors, ScopeError, VersionError, IntegrityError) as exc:
            return self._refused(exc)

    def put_headless(self, pk: Any) -> Response:
        try:
            return super().put_headless(pk)
        except (FieldErrors, ScopeError, VersionError, IntegrityError) as exc:
            return self._refused(exc)

    def delete_headless(self, pk: Any) -> Response:
        try:
            return super().delete_headless(pk)
        except (FieldErrors, ScopeError, VersionError) as exc:
            return self._refused(exc)

    def pre_get(self, data: dict[str, Any]) -> None:
        mask_rows(self.datamodel.obj, [data.get("result") or {}])  # 138****5678 unless allowed

    def pre_get_list(self, data: dict[str, Any]) -> None:
        mask_rows(self.datamodel.obj, data.get("result") or [])

    def pre_add(self, item: Any) -> None:
        check_change(self._entity, item, db.session, "add")

    def pre_update(self, item: Any) -> None:
        keep_masked(item)  # a masked value written back unchanged keeps the stored one
        check_change(self._entity, item, db.session, "update")

    def pre_delete(self, item: Any) -> None:
        check_change(self._entity, item, db.session, "delete")

    @expose("/<int:pk>/history", methods=["GET"])
    @protect()
    @safe
    def history(self, pk: int) -> Response:
        """Who changed what and when, with before/after values, for every version of the row.
        ---
        get:
          parameters:
          - in: path
            schema: {type: integer}
            name: pk
          responses:
            200: {description: Change history}
            404: {$ref: '#/components/responses/404'}
        """
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            return self.response_404()
        return self.response(200, result=history_entries(self._entity, item, db.session))


class VersionedApi(MetamodelApi):
    """Adds publish, new version and as-of reads."""

    def _operate(self, pk: int, operation: Any) -> Response:
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            return self.response_404()
        try:
            check_scope(self._entity, item)
            result = operation(item, db.session)
            db.session.commit()
        except (FieldErrors, ScopeError, VersionError) as exc:
            return self._refused(exc)
        return self.response(200, id=result.id, result=self.show_model_schema.dump(result))

    @expose("/<int:pk>/publish", methods=["POST"])
    @protect()
    @safe
    def publish(self, pk: int) -> Response:
        """Publish a draft version (the previous published version becomes superseded).
        ---
        post:
          parameters:
          - in: path
            schema: {type: integer}
            name: pk
          responses:
            200: {description: Published}
            409: {description: Refused, with the reason in Chinese}
        """
        return self._operate(pk, publish)

    @expose("/<int:pk>/new_version", methods=["POST"])
    @protect()
    @safe
    def new_version(self, pk: int) -> Response:
        """Create (or return) the draft of the next version.
        ---
        post:
          parameters:
          - in: path
            schema: {type: integer}
            name: pk
          responses:
            200: {description: The draft}
        """
        return self._operate(pk, new_version)

    @expose("/as_of", methods=["GET"])
    @protect()
    @safe
    def as_of(self) -> Response:
        """The versions in force at ``?date=YYYY-MM-DD[THH:MM:SS]`` (default: now).
        ---
        get:
          parameters:
          - in: query
            schema: {type: string}
            name: date
          responses:
            200: {description: Versions in force at the date}
            400: {$ref: '#/components/responses/400'}
        """
        text = request.args.get("date")
        try:
            when = dt.datetime.fromisoformat(text) if text else None
        except ValueError:
            return self.response_400(message=f"日期格式应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM:SS：{text}")
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC) if len(text or "") > 10 else (when + dt.timedelta(days=1)).replace(tzinfo=dt.UTC)
        scope, column = org_scope(), self._entity.scope_column
        rows = [
            r for r in db.session.scalars(current_versions(self.datamodel.obj, when))
            if column is None or scope.can_read(getattr(r, column)) or (self._entity.scope_nullable and getattr(r, column) is None)
        ]
        return self.response(200, count=len(rows), result=self.show_model_schema.dump(rows, many=True))


def make_api(entity: Entity) -> type[ModelRestApi]:
    """The REST API class of ``entity``."""
    fields = [f.name for f in entity.fields]
    datamodel = SQLAInterface(entity.model)
    # ``_info`` lists the rows each relation may point to: only those of the user's data scope.
    related = scoped_relation_filters(datamodel)
    attrs: dict[str, Any] = {
        "_entity": entity,
        "resource_name": entity.name,
        "datamodel": datamodel,
        "add_query_rel_fields": related,
        "edit_query_rel_fields": related,
        "label_columns": entity.labels,
        "list_columns": ["id", *_expanded(entity, entity.names("list"))],
        "show_columns": ["id", *_expanded(entity, fields)],
        "add_columns": entity.names("form"),
        "edit_columns": [f.name for f in entity.fields if f.form and f.edit],
        "search_columns": entity.names("search"),
        "order_columns": [f.name for f in entity.fields if not f.relation],
        "base_filters": base_filters(entity),
        "base_order": entity.order,
        "openapi_spec_tag": str(entity.name),
    }
    base = VersionedApi if entity.versioned else MetamodelApi
    return type(f"{entity.model.__name__}Api", (base,), attrs)
