"""Optional dimension check of an expression: infer the result's dimension, report mismatches."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from orgcarbon.rules.expressions import Expression, ExpressionError, node_position
from orgcarbon.rules.units import DIMENSION_NAMES, UnitTable, default_units

__all__ = ["DIMENSIONLESS", "Dimension", "check_units"]


@dataclass(frozen=True)
class Dimension:
    """A product of base dimensions with exponents, e.g. energy·mass⁻¹ for GJ/t."""

    exponents: tuple[tuple[str, Fraction], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[str, int | Fraction] | None = None, **kwargs: int) -> Dimension:
        """Build from ``{"energy": 1, "mass": -1}`` or keyword exponents."""
        merged = {**(mapping or {}), **kwargs}
        return cls(tuple(sorted((k, Fraction(v)) for k, v in merged.items() if v != 0)))

    @classmethod
    def of_unit(cls, symbol: str, table: UnitTable | None = None) -> Dimension:
        """Dimension of a unit symbol of the unit table, or of a quotient such as ``tCO2/GJ``."""
        table = table or default_units()
        numerator, _, denominator = symbol.partition("/")
        result = cls.of({table.get(numerator).dimension: 1})
        if denominator:
            result = result / cls.of({table.get(denominator).dimension: 1})
        return result

    def _combine(self, other: Dimension, sign: int) -> Dimension:
        merged = dict(self.exponents)
        for key, value in other.exponents:
            merged[key] = merged.get(key, Fraction(0)) + sign * value
        return Dimension.of(merged)

    def __mul__(self, other: Dimension) -> Dimension:
        return self._combine(other, 1)

    def __truediv__(self, other: Dimension) -> Dimension:
        return self._combine(other, -1)

    def power(self, exponent: Fraction) -> Dimension:
        """Raise every exponent to ``exponent``."""
        return Dimension.of({k: v * exponent for k, v in self.exponents})

    @property
    def is_dimensionless(self) -> bool:
        """True when no base dimension remains."""
        return not self.exponents

    def __str__(self) -> str:
        if not self.exponents:
            return DIMENSION_NAMES["dimensionless"]

        def part(key: str, value: Fraction) -> str:
            name = DIMENSION_NAMES.get(key, key)
            return name if value == 1 else f"{name}^{value}"

        top = [part(k, v) for k, v in self.exponents if v > 0]
        bottom = [part(k, -v) for k, v in self.exponents if v < 0]
        text = "·".join(top) or "1"
        return text + ("/" + "/".join(bottom) if bottom else "")


DIMENSIONLESS = Dimension()
_VERBS = {ast.Add: "相加", ast.Sub: "相减"}


class _Checker:
    """Infer dimensions bottom-up; ``None`` means a bare number that takes any dimension."""

    def __init__(self, expr: Expression, dims: Mapping[str, Dimension]) -> None:
        self.source = expr.source.strip("\n")
        self.dims = dims

    def fail(self, node: ast.AST, reason: str) -> ExpressionError:
        line, column = node_position(self.source, node)
        return ExpressionError(reason, line, column)

    def same(
        self, node: ast.AST, a: Dimension | None, b: Dimension | None, verb: str
    ) -> Dimension | None:
        if a is None or b is None or a == b:
            return b if a is None else a
        raise self.fail(node, f"单位不一致：不能将“{a}”与“{b}”{verb}")

    def visit(self, node: ast.AST) -> Dimension | None:
        if isinstance(node, ast.Constant):
            return None if not isinstance(node.value, bool) else DIMENSIONLESS
        if isinstance(node, ast.Name):
            return self.dims.get(node.id)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            inner = self.visit(node.operand)
            return DIMENSIONLESS if isinstance(node.op, ast.Not) else inner
        if isinstance(node, ast.Compare):
            current = self.visit(node.left)
            for comparator in node.comparators:
                current = self.same(node, current, self.visit(comparator), "比较")
            return DIMENSIONLESS
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.visit(value)
            return DIMENSIONLESS
        if isinstance(node, ast.IfExp):
            self.visit(node.test)
            return self.same(node, self.visit(node.body), self.visit(node.orelse), "作为两个分支")
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, "无法推断单位")  # unreachable for validated trees

    def binop(self, node: ast.BinOp) -> Dimension | None:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Add | ast.Sub):
            return self.same(node, left, right, _VERBS[type(node.op)])
        if isinstance(node.op, ast.Mult):
            return (left or DIMENSIONLESS) * (right or DIMENSIONLESS)
        if isinstance(node.op, ast.Div):
            return (left or DIMENSIONLESS) / (right or DIMENSIONLESS)
        # power: a dimensional base needs a constant exponent
        if right is not None and not right.is_dimensionless:
            raise self.fail(node.right, f"指数必须无量纲，实际为“{right}”")
        if left is None or left.is_dimensionless:
            return left
        exponent = _constant(node.right)
        if exponent is None:
            raise self.fail(node.right, "有单位的量只能取常数次幂")
        return left.power(exponent)

    def call(self, node: ast.Call) -> Dimension | None:
        name = node.func.id  # type: ignore[attr-defined]  # validated: always a Name
        args = [self.visit(a) for a in node.args]
        if name == "is_null":
            return DIMENSIONLESS
        if name in ("abs", "round"):
            return args[0]
        if name == "sqrt":
            return None if args[0] is None else args[0].power(Fraction(1, 2))
        result: Dimension | None = None
        for arg in args:
            result = self.same(node, result, arg, "一起运算")
        return result


def _constant(node: ast.AST) -> Fraction | None:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return sign * Fraction(node.value).limit_denominator(1000)
    return None


def check_units(
    expr: Expression,
    dims: Mapping[str, Dimension],
    expected: Dimension | None = None,
) -> Dimension:
    """Infer the dimension of ``expr`` from its variables' dimensions; raise on a mismatch."""
    checker = _Checker(expr, dims)
    result = checker.visit(expr.tree.body) or DIMENSIONLESS
    if expected is not None and result != expected:
        raise ExpressionError(f"结果的单位为“{result}”，应为“{expected}”", 1, 1)
    return result
