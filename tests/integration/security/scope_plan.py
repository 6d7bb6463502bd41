"""The scope matrix's plan: every registered endpoint sorted into what is sent to it, or why not.

``plan(app, world)`` walks ``app.url_map`` and turns each rule into calls (reads of an object,
writes on an object, inserts, moves, list reads) using ``scope_cases``; what it cannot place goes to
``unplaced`` — a new endpoint with an object id, or a new write, fails the matrix until it is
given a case or a reviewed exemption.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from tests.integration.security import scope_cases as cases
from tests.integration.security.scope_world import EAST, WEST, World

# FAB method name → (is the object read, is it written) for generated views and APIs with an id.
GENERATED_READS = {"show", "get", "history"}
GENERATED_WRITES = {"delete", "action", "put", "publish", "new_version"}


@dataclass(frozen=True)
class Call:
    """One request: ``method url body``; ``org`` is the organisation whose object or id it names."""

    endpoint: str
    method: str
    url: str
    org: str
    body: dict[str, Any] | None = None
    control: bool = False  # also sent for the user's own organisation, which must succeed
    own_url: str | None = None
    own_body: dict[str, Any] | None = None
    scoped_effect: bool = False
    late: bool = False


@dataclass
class Plan:
    """Calls by group, and what could not be placed."""

    reads: list[Call] = field(default_factory=list)  # GET of an object of the other organisation
    writes: list[Call] = field(default_factory=list)  # a change of an object of the other organisation
    inserts: list[Call] = field(default_factory=list)  # a new row naming the other organisation
    moves: list[Call] = field(default_factory=list)  # an own row moved into the other organisation
    lists: list[Call] = field(default_factory=list)  # reads without an object id
    unplaced: list[str] = field(default_factory=list)
    exempt: dict[str, str] = field(default_factory=dict)


def id_arguments(rule: Rule) -> list[str]:
    """URL arguments that name an object: integers, ``pk`` and ``*_id``."""
    return sorted(a for a in rule.arguments if isinstance(rule._converters.get(a), IntegerConverter)
                  or a == "pk" or a.endswith("_id"))


def fill(rule: Rule, values: dict[str, Any]) -> str:
    """The rule's path with ``values`` in its arguments."""
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _exemption(endpoint: str) -> str | None:
    for key, reason in cases.EXEMPT.items():
        if endpoint == key or (key.endswith(".") and endpoint.startswith(key)):
            return reason
    if endpoint in cases.ID_ARGS:  # a hand-written page that merely shares a suffix (ReportsView.download)
        return None
    return next((r for s, r in cases.EXEMPT_SUFFIXES.items() if endpoint.endswith(s)), None)


def _view(app: Flask, endpoint: str) -> Any:
    return getattr(app.view_functions[endpoint], "__self__", None)


def _table(view: Any) -> str | None:
    if isinstance(view, ModelView | ModelRestApi):
        return str(view.datamodel.obj.__table__.name)
    return None


def _scoped(table: str, view: Any) -> bool:
    columns = view.datamodel.obj.__table__.columns
    return table == "mm_organization" or "organization_id" in columns


def _variants(rule: Rule, base: dict[str, Any]) -> list[dict[str, Any]]:
    """``base`` once per option of each ``any(...)`` argument it leaves open."""
    out = [dict(base)]
    for name in sorted(rule.arguments - base.keys()):
        converter = rule._converters.get(name)
        if not isinstance(converter, AnyConverter):
            continue
        out = [{**v, name: option} for v in out for option in sorted(converter.items)]
    return out


def _resolve(world: World, org: str, values: dict[str, Any]) -> dict[str, Any]:
    return {k: world.of(org, v) if isinstance(v, str) and v in world.ids[org] else v for k, v in values.items()}


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) & {"GET", "POST", "PUT", "DELETE"})


def _history_args() -> list[dict[str, Any]]:
    from orgcarbon.metamodel.entities import ENTITIES

    return [{"entity": e.name, "pk": e.model.__table__.name} for e in ENTITIES if e.scope_column]


def _id_calls(plan: Plan, rule: Rule, world: World, args: list[dict[str, Any]], control_reads: bool,
              body: dict[str, Any] | None = None) -> None:
    for method in _methods(rule):
        for values in (v for a in args for v in _variants(rule, a)):
            other = fill(rule, _resolve(world, EAST, values))
            own = fill(rule, _resolve(world, WEST, values))
            if method == "GET" and control_reads:
                plan.reads.append(Call(rule.endpoint, method, other, EAST, control=True, own_url=own))
            else:
                plan.writes.append(Call(rule.endpoint, method, other, EAST, body))


def _generated(plan: Plan, app: Flask, rule: Rule, world: World, view: Any, table: str) -> None:
    name = app.view_functions[rule.endpoint].__name__
    ids = id_arguments(rule)
    if ids:
        args = [{"pk": table}]
        if name == "action":
            args = [{"pk": table, "name": action} for action in sorted(view.actions)]
        if name in GENERATED_READS or (name == "edit" and "GET" in (rule.methods or ())):
            _id_calls(plan, _only(rule, "GET"), world, args, control_reads=True)
        if name in GENERATED_WRITES or name == "edit":
            _id_calls(plan, _without(rule, "GET") if name == "edit" else rule, world, args, control_reads=False,
                      body={"name": "跨组织改名"})
        if name not in GENERATED_READS | GENERATED_WRITES | {"edit"}:
            plan.unplaced.append(f"{rule.endpoint}: generated endpoint with an id of unknown kind")
        if name in ("edit", "put"):
            _moves(plan, rule, world, view, table, api=name == "put")
        return
    if name == "action_post":
        for action in sorted(view.actions):
            plan.writes.append(Call(rule.endpoint, "POST", rule.rule, EAST,
                                    {"action": action, "rowid": [world.of(EAST, table)]}))
        return
    if name in ("add", "post"):
        if "GET" in (rule.methods or ()):
            plan.lists.append(Call(rule.endpoint, "GET", rule.rule, EAST))
        make = cases.MODEL_INSERTS.get(table)
        if make is None:
            plan.unplaced.append(f"{rule.endpoint}: no MODEL_INSERTS entry for {table}")
            return
        variant = "api" if isinstance(view, ModelRestApi) else "page"
        plan.inserts.append(Call(rule.endpoint, "POST", rule.rule, EAST, make(world, EAST, variant), control=True,
                                 own_url=rule.rule, own_body=make(world, WEST, variant)))
        return
    plan.lists.append(Call(rule.endpoint, "GET", _list_url(rule, view), EAST))


def _moves(plan: Plan, rule: Rule, world: World, view: Any, table: str, api: bool) -> None:
    moves = cases.MODEL_MOVES.get(table)
    if not moves:
        plan.unplaced.append(f"{rule.endpoint}: no MODEL_MOVES entry for {table}")
        return
    own_id = world.of(WEST, table)
    url = fill(rule, {"pk": own_id})
    for make in moves:
        change = make(world, EAST)
        if not set(change) <= set(view.edit_columns):
            continue
        plan.moves.append(Call(rule.endpoint, "PUT" if api else "POST", url, EAST, change, control=True,
                               own_url=url, own_body=make(world, WEST)))


def _only(rule: Rule, method: str) -> Rule:
    copy = Rule(rule.rule, endpoint=rule.endpoint, methods=[method])
    copy.arguments, copy._converters = rule.arguments, rule._converters
    return copy


def _without(rule: Rule, method: str) -> Rule:
    copy = Rule(rule.rule, endpoint=rule.endpoint, methods=sorted((rule.methods or set()) - {method, "HEAD"}))
    copy.arguments, copy._converters = rule.arguments, rule._converters
    return copy


def _list_url(rule: Rule, view: Any) -> str:
    if isinstance(view, ModelView) and rule.rule.endswith("/list/"):
        return f"{rule.rule}?psize_{type(view).__name__}=100"
    if isinstance(view, ModelRestApi) and rule.rule.endswith("/"):
        return f"{rule.rule}?q=(page_size:100)"
    return rule.rule


def _custom(plan: Plan, rule: Rule, world: World) -> None:
    endpoint = rule.endpoint
    if endpoint in cases.SHARED_ID_ARGS:
        shared = {k: world.ids["shared"][v] for k, v in cases.SHARED_ID_ARGS[endpoint].items()}
        _without_object(plan, rule, world, fill(rule, shared), lambda: iter([shared]))
        return
    if id_arguments(rule):
        args = _history_args() if endpoint == "HistoryView.show" else cases.ID_ARGS.get(endpoint)
        if args is None:
            plan.unplaced.append(f"{endpoint} {rule.rule}: takes an object id; add it to ID_ARGS")
            return
        args = args if isinstance(args, list) else [args]
        make = cases.ID_BODIES.get(endpoint)
        _id_calls(plan, rule, world, args, control_reads=True, body=make() if make else dict(cases.COMMENT))
        if endpoint in cases.CUSTOM_MOVES:
            _table, body = cases.CUSTOM_MOVES[endpoint]  # the table names the own object moved
            url = fill(rule, _resolve(world, WEST, args[0]))
            for method in (m for m in _methods(rule) if m != "GET"):
                plan.moves.append(Call(endpoint, method, url, EAST, body(world, EAST), control=True, own_url=url,
                                       own_body=body(world, WEST)))
        return
    _without_object(plan, rule, world, rule.rule, lambda: _list_values(plan, rule))


def _without_object(plan: Plan, rule: Rule, world: World, base: str,
                    list_values: Callable[[], Iterator[dict[str, Any]]]) -> None:
    """Calls of an endpoint that names no object of an organisation: inserts for its writes, lists for GET."""
    endpoint = rule.endpoint
    writes = [m for m in _methods(rule) if m != "GET"]
    if writes:
        found = cases.INSERTS.get(endpoint)
        if found is None:
            plan.unplaced.append(f"{endpoint} {rule.rule}: writes without an id; add it to INSERTS")
        for insert in found if isinstance(found, list) else [found] if found else []:
            for method in writes:
                url, own = (f"{base}?{insert.query(world, o)}" for o in (EAST, WEST))
                plan.inserts.append(Call(endpoint, method, url.rstrip("?"), EAST, insert.body(world, EAST),
                                         control=insert.control, own_url=own.rstrip("?"),
                                         own_body=insert.body(world, WEST), scoped_effect=insert.scoped_effect,
                                         late=insert.late))
    if "GET" in _methods(rule):
        for values in list_values():
            plan.lists.append(Call(endpoint, "GET", fill(rule, values), EAST))


def _list_values(plan: Plan, rule: Rule) -> Iterator[dict[str, Any]]:
    options: list[dict[str, Any]] = [{}]
    for name in sorted(rule.arguments):
        values = cases.non_id_values(rule.endpoint, name)
        if values is None:
            plan.unplaced.append(f"{rule.endpoint} {rule.rule}: no values for <{name}>; add to NON_ID_VALUES")
            return
        options = [{**o, name: v} for o in options for v in values]
    yield from options


def plan(app: Flask, world: World) -> Plan:
    """Every endpoint of ``app`` turned into calls, exemptions or problems."""
    found = Plan()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        endpoint = rule.endpoint
        if (reason := _exemption(endpoint)) is not None:
            found.exempt[endpoint] = reason
            continue
        view = _view(app, endpoint)
        table = _table(view)
        if table is not None and not _scoped(table, view):
            if table in cases.UNSCOPED_MODELS:
                found.exempt[endpoint] = cases.UNSCOPED_MODELS[table]
            else:
                found.unplaced.append(f"{endpoint}: model {table} has no organisation; review it (UNSCOPED_MODELS)")
            continue
        if table is not None:
            _generated(found, app, rule, world, view, table)
        else:
            _custom(found, rule, world)
    return found
