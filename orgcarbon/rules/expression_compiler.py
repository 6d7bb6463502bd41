"""Generate Python code from a validated expression tree: a scalar and a NumPy flavour.

The generated code only calls the helpers of ``expression_functions`` and runs without builtins;
the tree it starts from has already been checked against the whitelist in ``expressions``.
"""

from __future__ import annotations

import ast
import copy
from types import CodeType

__all__ = ["SCALAR", "VECTOR", "generate"]

_BOOLEAN_CALLS = frozenset({"is_null"})


def _is_boolean(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare | ast.BoolOp):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return True
    return isinstance(node, ast.Call) and getattr(node.func, "id", "") in _BOOLEAN_CALLS


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


class _VectorTransformer(ast.NodeTransformer):
    """Rewrite control flow into NumPy calls so one evaluation covers whole columns."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        # NumPy scalars, so 1/0 and (-8)**0.5 give inf/nan as on arrays rather than raising.
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            return node
        return _call("_v_float", ast.Constant(value=float(node.value)))

    def _num(self, node: ast.expr) -> ast.expr:
        # NumPy adds booleans as logical "or"; Python adds them as 0/1. Use numbers, like Python.
        visited: ast.expr = self.visit(node)
        return _call("_v_num", visited) if _is_boolean(node) else visited

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        return ast.BinOp(left=self._num(node.left), op=node.op, right=self._num(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.Not):
            return _call("_v_not", self.visit(node.operand))
        return ast.UnaryOp(op=node.op, operand=self._num(node.operand))

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        helper = "_v_and" if isinstance(node.op, ast.And) else "_v_or"
        result: ast.expr = self.visit(node.values[0])
        for value in node.values[1:]:
            result = _call(helper, result, self.visit(value))
        return result

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        operands = [self.visit(x) for x in (node.left, *node.comparators)]
        parts: list[ast.expr] = [
            ast.Compare(left=operands[i], ops=[op], comparators=[operands[i + 1]])
            for i, op in enumerate(node.ops)
        ]
        result = parts[0]
        for part in parts[1:]:
            result = _call("_v_and", result, part)
        return result

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        return _call(
            "_v_where", self.visit(node.test), self.visit(node.body), self.visit(node.orelse)
        )

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.id  # type: ignore[attr-defined]  # validated: always a Name
        args = [self.visit(a) if name in _BOOLEAN_CALLS else self._num(a) for a in node.args]
        return _call("_v_" + name, *args)


class _ScalarTransformer(ast.NodeTransformer):
    """Rewrite the operations whose Python semantics differ from NumPy's on floats."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        # Integer constants would turn ** into exact big-integer arithmetic; NumPy uses floats.
        if type(node.value) is int:
            return ast.Constant(value=float(node.value))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Div):
            return _call("_s_div", left, right)
        if isinstance(node.op, ast.Pow):
            return _call("_s_pow", left, right)
        return ast.BinOp(left=left, op=node.op, right=right)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        # Python's "a and b" returns an operand; NumPy's logical ops return booleans.
        values: list[ast.expr] = [_call("_s_truth", self.visit(v)) for v in node.values]
        return ast.BoolOp(op=node.op, values=values)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.id  # type: ignore[attr-defined]  # validated: always a Name
        if name == "round" and len(node.args) == 2:
            return _call("_s_round", self.visit(node.args[0]), node.args[1])
        return _call("_s_" + name, *[self.visit(a) for a in node.args])


SCALAR = "scalar"
VECTOR = "vector"


def generate(tree: ast.Expression, flavour: str, source: str) -> CodeType:
    """Compile a validated tree into Python code for plain numbers or for NumPy columns."""
    transformer = _ScalarTransformer() if flavour == SCALAR else _VectorTransformer()
    new = transformer.visit(copy.deepcopy(tree))
    ast.fix_missing_locations(new)
    return compile(new, f"<expression {source[:40]!r}>", "eval")
