"""The one expression language of formulas and rules: a whitelisted syntax tree, compiled once."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import CodeType
from typing import Any

import numpy as np
import numpy.typing as npt

from orgcarbon.rules import expression_functions as fn
from orgcarbon.rules.expression_compiler import SCALAR, VECTOR, generate

__all__ = [
    "FUNCTIONS",
    "MAX_NODES",
    "MAX_SOURCE_LENGTH",
    "Expression",
    "ExpressionError",
    "compile_expression",
]

MAX_SOURCE_LENGTH = 2000
MAX_NODES = 400
FUNCTIONS = fn.SIGNATURES

Value = float | bool | npt.NDArray[Any]

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}
_CMPOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
# Chinese reasons for constructs that parse as Python but are not part of the language.
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "不允许访问属性（.）",
    ast.Subscript: "不允许下标访问（[]）",
    ast.Lambda: "不允许使用 lambda",
    ast.ListComp: "不允许使用推导式",
    ast.SetComp: "不允许使用推导式",
    ast.DictComp: "不允许使用推导式",
    ast.GeneratorExp: "不允许使用推导式",
    ast.NamedExpr: "不允许赋值（:=）",
    ast.List: "不允许使用列表",
    ast.Tuple: "不允许使用元组",
    ast.Dict: "不允许使用字典",
    ast.Set: "不允许使用集合",
    ast.JoinedStr: "不允许使用字符串",
    ast.Await: "不允许使用 await",
    ast.Starred: "不允许使用 * 展开",
}


class ExpressionError(ValueError):
    """An expression is invalid or cannot be evaluated; ``str()`` is a Chinese message."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        where = f"第 {line} 行第 {column} 列：" if line is not None and column is not None else ""
        super().__init__(where + reason)


def node_position(source: str, node: ast.AST) -> tuple[int, int]:
    """Return the 1-based line and character column of ``node`` in ``source``."""
    line = getattr(node, "lineno", 1)
    byte_col = getattr(node, "col_offset", 0)
    # ast offsets count UTF-8 bytes; Chinese variable names would shift every column after them.
    text = source.splitlines()[line - 1] if source.splitlines() else ""
    return line, len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore")) + 1


def _error_at(source: str, node: ast.AST, reason: str) -> ExpressionError:
    line, column = node_position(source, node)
    return ExpressionError(reason, line, column)


def _syntax_reason(exc: SyntaxError) -> str:
    msg = exc.msg or ""
    if "never closed" in msg:
        return "括号未闭合"
    if "unmatched" in msg or "does not match" in msg:
        return "括号不匹配"
    if "expected 'else'" in msg:
        return "条件表达式缺少 else"
    if "unterminated string" in msg:
        return "字符串未结束"
    if "invalid character" in msg or "invalid non-printable" in msg:
        return "含有非法字符"
    return "语法错误"


def _parse(source: str) -> ast.Expression:
    if not isinstance(source, str):
        raise ExpressionError("表达式必须是文本")
    if not source.strip():
        raise ExpressionError("表达式为空")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(f"表达式过长（{len(source)} 个字符，上限 {MAX_SOURCE_LENGTH}）")
    try:
        return ast.parse(source.strip("\n"), mode="eval")
    except SyntaxError as exc:
        line = exc.lineno or 1
        lines = source.strip("\n").splitlines() or [""]
        column = exc.offset if exc.offset else len(lines[min(line, len(lines)) - 1]) + 1
        raise ExpressionError(_syntax_reason(exc), line, column) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("表达式嵌套过深或含有非法内容") from None


class _Validator:
    """Walk the tree once: reject anything outside the whitelist, collect names and functions."""

    def __init__(self, source: str, allowed: frozenset[str] | None) -> None:
        self.source = source
        self.allowed = allowed
        self.nodes = 0
        self.names: dict[str, None] = {}
        self.required: set[str] = set()
        self.functions: set[str] = set()

    def visit(self, node: ast.AST, nullable: bool = False) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _error_at(self.source, node, f"表达式过于复杂（超过 {MAX_NODES} 个节点）")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                raise _error_at(self.source, node, "不允许使用字符串")
            if not isinstance(node.value, int | float) or isinstance(node.value, complex):
                raise _error_at(self.source, node, f"不支持的常量 {node.value!r}")
        elif isinstance(node, ast.Name):
            self._name(node, nullable)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise _error_at(self.source, node, "不支持的运算符（只允许 + - * / **）")
            self.visit(node.left, nullable)
            self.visit(node.right, nullable)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
                raise _error_at(self.source, node, "不支持的一元运算符")
            self.visit(node.operand, nullable)
        elif isinstance(node, ast.Compare):
            if not all(isinstance(op, _CMPOPS) for op in node.ops):
                raise _error_at(self.source, node, "不支持的比较运算（只允许 < <= > >= == !=）")
            for child in (node.left, *node.comparators):
                self.visit(child, nullable)
        elif isinstance(node, ast.BoolOp):
            for child in node.values:
                self.visit(child, nullable)
        elif isinstance(node, ast.IfExp):
            for child in (node.test, node.body, node.orelse):
                self.visit(child, nullable)
        elif isinstance(node, ast.Call):
            self._call(node, nullable)
        else:
            reason = _FORBIDDEN.get(type(node), f"不支持的语法：{type(node).__name__}")
            raise _error_at(self.source, node, reason)

    def _name(self, node: ast.Name, nullable: bool) -> None:
        name = node.id
        if name.startswith("_"):
            raise _error_at(self.source, node, f'变量名不能以下划线开头："{name}"')
        if name in FUNCTIONS:
            raise _error_at(self.source, node, f'"{name}" 是函数名，不能作为变量使用')
        if name in ("True", "False", "None"):
            raise _error_at(self.source, node, f'不支持的常量 "{name}"')
        if self.allowed is not None and name not in self.allowed:
            raise _error_at(self.source, node, f'未知变量 "{name}"')
        self.names.setdefault(name)
        if not nullable:
            self.required.add(name)

    def _call(self, node: ast.Call, nullable: bool) -> None:
        if not isinstance(node.func, ast.Name):
            raise _error_at(self.source, node, "只能调用内置函数")
        name = node.func.id
        signature = FUNCTIONS.get(name)
        if signature is None:
            raise _error_at(self.source, node, f'未知函数 "{name}"')
        if node.keywords:
            raise _error_at(self.source, node, f"函数 {name} 不接受命名参数")
        low, high = signature
        count = len(node.args)
        if count < low or (high is not None and count > high):
            expected = (
                str(low) if low == high else f"至少 {low}" if high is None else f"{low}–{high}"
            )
            raise _error_at(
                self.source, node, f"函数 {name} 需要 {expected} 个参数，实际 {count} 个"
            )
        if name == "round" and count == 2 and not _is_int_literal(node.args[1]):
            raise _error_at(self.source, node.args[1], "round 的小数位数必须是整数常量")
        self.functions.add(name)
        self.nodes += 1
        for index, arg in enumerate(node.args):
            # A variable only seen in if_null's first argument may be absent (NaN) by design.
            self.visit(arg, nullable or (name == "if_null" and index == 0))


def _is_int_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


@dataclass(frozen=True)
class Expression:
    """A validated, compiled expression; evaluate it on scalars or on whole NumPy columns."""

    source: str
    variables: tuple[str, ...]
    required_variables: frozenset[str]
    functions: frozenset[str]
    tree: ast.Expression = field(repr=False, compare=False)
    _scalar: CodeType = field(repr=False, compare=False)
    _vector: CodeType = field(repr=False, compare=False)

    def _namespace(self, helpers: Mapping[str, Any], env: Mapping[str, Any]) -> dict[str, Any]:
        missing = [name for name in self.variables if name not in env]
        if missing:
            raise ExpressionError("缺少变量的值：" + "、".join(f'"{m}"' for m in missing))
        namespace: dict[str, Any] = dict(helpers)
        for name in self.variables:
            namespace[name] = env[name]
        return namespace

    def evaluate_scalar(self, env: Mapping[str, Any]) -> float | bool:
        """Evaluate on plain numbers, one record at a time."""
        result = eval(self._scalar, self._namespace(fn.SCALAR_HELPERS, env))  # noqa: S307  # whitelisted tree, no builtins
        return result if isinstance(result, bool) else float(result)

    def evaluate_vector(self, env: Mapping[str, Any], size: int | None = None) -> npt.NDArray[Any]:
        """Evaluate over NumPy columns in one call; ``size`` broadcasts constant results."""
        namespace = self._namespace(fn.VECTOR_HELPERS, env)
        for name in self.variables:
            if not isinstance(namespace[name], np.ndarray):
                namespace[name] = np.float64(namespace[name])
        with np.errstate(all="ignore"):  # x/0 → inf and sqrt(-1) → nan, as documented
            result = np.asarray(eval(self._vector, namespace))  # noqa: S307
        if size is not None and result.shape != (size,):
            result = np.broadcast_to(result, (size,)).copy()
        return result

    def evaluate(self, env: Mapping[str, Any]) -> Value:
        """Evaluate vectorised if any variable is an array, else on scalars."""
        if any(isinstance(env.get(name), np.ndarray) for name in self.variables):
            return self.evaluate_vector(env)
        return self.evaluate_scalar(env)


def compile_expression(source: str, variables: Iterable[str] | None = None) -> Expression:
    """Parse, validate and compile ``source``; ``variables`` (if given) are the only names allowed."""
    allowed = frozenset(variables) if variables is not None else None
    return _compile_cached(source, allowed)


@lru_cache(maxsize=1024)
def _compile_cached(source: str, allowed: frozenset[str] | None) -> Expression:
    tree = _parse(source)
    text = source.strip("\n")
    validator = _Validator(text, allowed)
    validator.visit(tree.body)
    return Expression(
        source=source,
        variables=tuple(validator.names),
        required_variables=frozenset(validator.required),
        functions=frozenset(validator.functions),
        tree=tree,
        _scalar=generate(tree, SCALAR, text),
        _vector=generate(tree, VECTOR, text),
    )
