"""Check Jinja source against the variable catalogue: syntax, names, fields, loops, filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import jinja2
from jinja2 import nodes

from orgcarbon.report_templates.catalogue import BY_NAME, Variable
from orgcarbon.report_templates.environment import JINJA_GLOBALS, make_environment
from orgcarbon.report_templates.numbers import FILTERS

__all__ = ["Severity", "TemplateIssue", "check_source"]

Severity = Literal["error", "warning"]
Locate = Callable[[int], str]


@dataclass(frozen=True)
class TemplateIssue:
    """One problem found in a template: what, where, the offending text, a Chinese message."""

    code: str  # syntax | split_tag | unknown_variable | unknown_field | loop_not_list | ...
    location: str  # e.g. "正文 第 12 段", "正文 表格 2 第 3 行第 1 列", "汇总表!B6"
    message: str
    text: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.location}：{self.message}" + (f"（{self.text}）" if self.text else "")


# Jinja's messages are English; the common ones get a Chinese explanation in front.
_HINTS = (
    ("unexpected end of template", "标签或语句块未闭合（缺少 }}、%} 或 endfor/endif）"),
    ("unexpected '}'", "多余或不配对的 }"),
    ("unknown tag", "未知的 {% %} 语句"),
    ("expected token", "标签内容不完整"),
    ("unexpected char", "标签中有无法识别的字符（注意中文标点和全角符号）"),
)


def _syntax_message(message: str) -> str:
    hint = next((cn for en, cn in _HINTS if en in message.lower()), "模板语法错误")
    return f"{hint}：{message}"


def _names(target: nodes.Node) -> list[str]:
    # find_all() skips the node itself, and a plain loop target is a bare Name
    found = [target, *target.find_all(nodes.Name)]
    return [n.name for n in found if isinstance(n, nodes.Name)]


class _Walker:
    """Walks the parsed template; ``scope`` maps a local name to the table it iterates, if any."""

    def __init__(self, locate: Locate, env: jinja2.Environment) -> None:
        self.locate = locate
        self.env = env
        self.issues: list[TemplateIssue] = []

    def add(self, code: str, node: nodes.Node, message: str, text: str = "") -> None:
        self.issues.append(TemplateIssue(code, self.locate(node.lineno), message, text))

    def visit(self, node: nodes.Node, scope: dict[str, Variable | None]) -> None:
        if isinstance(node, nodes.For):
            self.visit(node.iter, scope)
            row_of = self._check_iterable(node.iter, scope)
            inner = dict(scope, loop=None)
            for name in _names(node.target):
                inner[name] = row_of
            for child in [*node.body, *node.else_, *([node.test] if node.test else [])]:
                self.visit(child, inner)
            return
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            for child in node.iter_child_nodes(exclude=("target",)):
                self.visit(child, scope)
            for name in _names(node.target):
                scope[name] = None  # {% set %} binds for the rest of the block
            return
        if isinstance(node, nodes.Macro | nodes.CallBlock):
            inner = dict(scope, caller=None, varargs=None, kwargs=None)
            inner.update({a.name: None for a in node.args})
            for child in node.body:
                self.visit(child, inner)
            if isinstance(node, nodes.Macro):
                scope[node.name] = None
            return
        if isinstance(node, nodes.Name) and node.ctx == "load":
            self._check_name(node, scope)
        elif isinstance(node, nodes.Filter | nodes.Test):
            known = self.env.filters if isinstance(node, nodes.Filter) else self.env.tests
            if node.name not in known:
                what = "过滤器" if isinstance(node, nodes.Filter) else "测试"
                choices = "、".join(FILTERS) + "，以及 Jinja 内置过滤器" if what == "过滤器" else ""
                self.add(
                    f"unknown_{'filter' if what == '过滤器' else 'test'}",
                    node,
                    f"不存在的{what}“{node.name}”" + (f"，可用：{choices}" if choices else ""),
                    node.name,
                )
        elif isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            table = scope.get(node.node.name)
            if table is not None and node.attr not in {f.name for f in table.fields}:
                fields = "、".join(f.name for f in table.fields)
                self.add(
                    "unknown_field",
                    node,
                    f"表“{table.name}”的行没有字段“{node.attr}”，可用字段：{fields}",
                    f"{node.node.name}.{node.attr}",
                )
        for child in node.iter_child_nodes():
            self.visit(child, scope)

    def _check_name(self, node: nodes.Name, scope: dict[str, Variable | None]) -> None:
        if node.name in scope or node.name in BY_NAME or node.name in JINJA_GLOBALS:
            return
        self.add(
            "unknown_variable",
            node,
            f"未知变量“{node.name}”：变量目录中没有此变量，请检查拼写或查阅变量目录",
            node.name,
        )

    def _check_iterable(
        self, node: nodes.Node, scope: dict[str, Variable | None]
    ) -> Variable | None:
        """The table a loop iterates (for field checks); report loops over single values."""
        if isinstance(node, nodes.Filter | nodes.Call):
            return None  # e.g. |sort or range(): trust the expression
        if isinstance(node, nodes.Name) and node.name not in scope:
            variable = BY_NAME.get(node.name)
            if variable is None:
                return None  # already reported as unknown
            if variable.kind in ("scalar", "image"):
                self.add(
                    "loop_not_list",
                    node,
                    f"不能对单个值“{node.name}”循环：只有列表或表格变量可以用 for 循环",
                    node.name,
                )
            return variable if variable.kind == "table" else None
        if (
            isinstance(node, nodes.Getattr)
            and isinstance(node.node, nodes.Name)
            and scope.get(node.node.name) is not None
        ):
            self.add(
                "loop_not_list",
                node,
                f"不能对表格字段“{node.node.name}.{node.attr}”循环：它是单个值",
                f"{node.node.name}.{node.attr}",
            )
        return None


def check_source(
    source: str, locate: Locate, env: jinja2.Environment | None = None
) -> list[TemplateIssue]:
    """Every problem in ``source``; ``locate`` turns a Jinja line number into a location."""
    env = env or make_environment()
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        line = exc.lineno or 1
        lines = source.splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return [TemplateIssue("syntax", locate(line), _syntax_message(exc.message or ""), text)]
    walker = _Walker(locate, env)
    walker.visit(tree, {})
    return walker.issues
