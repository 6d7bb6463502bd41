"""The expression language: whitelist, Chinese errors with positions, scalar == vectorised."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgcarbon.rules.dimensions import Dimension, check_units
from orgcarbon.rules.expressions import (
    MAX_NODES,
    MAX_SOURCE_LENGTH,
    ExpressionError,
    compile_expression,
)


def test_compiled_expression_exposes_its_variables_in_order() -> None:
    expr = compile_expression("quantity * ncv * cc * of * 44 / 12")
    assert expr.variables == ("quantity", "ncv", "cc", "of")
    assert expr.required_variables == {"quantity", "ncv", "cc", "of"}


def test_variables_only_inside_if_null_first_argument_are_optional() -> None:
    expr = compile_expression("quantity * if_null(purity, 1)")
    assert expr.required_variables == {"quantity"}
    assert set(expr.variables) == {"quantity", "purity"}


def test_chinese_variable_names_are_allowed() -> None:
    assert compile_expression("数量 * 纯度").evaluate({"数量": 10.0, "纯度": 0.9}) == pytest.approx(
        9.0
    )


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("a + b * c - d / 2", {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, 5.0),
        ("-a ** 2", {"a": 3.0}, -9.0),
        ("1 < a <= 3", {"a": 3.0}, True),
        ("1 < a <= 3", {"a": 4.0}, False),
        ("a if a > 0 and not b else 0", {"a": 2.0, "b": 0.0}, 2.0),
        ("a if a > 0 or b else -1", {"a": -2.0, "b": 0.0}, -1.0),
        ("min(a, b, 3) + max(a, b)", {"a": 1.0, "b": 5.0}, 6.0),
        ("abs(a) + round(b, 2)", {"a": -1.5, "b": 2.346}, 1.5 + 2.35),
        ("sum(a, b, 1)", {"a": 1.0, "b": 2.0}, 4.0),
        ("if_null(a, 7)", {"a": math.nan}, 7.0),
        ("if_null(a, 7)", {"a": 3.0}, 3.0),
        ("is_null(a)", {"a": math.nan}, True),
        ("clamp(a, 0, 1)", {"a": 1.7}, 1.0),
        ("sqrt(a)", {"a": 16.0}, 4.0),
        ("(a > 1) + (b > 1)", {"a": 2.0, "b": 2.0}, 2.0),
    ],
)
def test_scalar_and_vector_evaluation_agree(
    source: str, env: dict[str, float], expected: object
) -> None:
    expr = compile_expression(source)
    assert expr.evaluate_scalar(env) == pytest.approx(expected)
    vector = expr.evaluate_vector({k: np.array([v, v]) for k, v in env.items()})
    assert vector.tolist() == pytest.approx([expected, expected])


def test_conditional_becomes_elementwise_on_arrays() -> None:
    expr = compile_expression("x * 2 if x > 0 else 0")
    result = expr.evaluate({"x": np.array([-1.0, 0.5, 3.0])})
    assert isinstance(result, np.ndarray)
    assert result.tolist() == [0.0, 1.0, 6.0]


def test_constant_expression_broadcasts_to_requested_size() -> None:
    assert compile_expression("44 / 12").evaluate_vector({}, size=3).shape == (3,)


def test_division_by_zero_gives_inf_on_both_paths() -> None:
    expr = compile_expression("a / b")
    assert expr.evaluate_scalar({"a": 1.0, "b": 0.0}) == math.inf
    assert expr.evaluate_vector({"a": np.array([1.0]), "b": np.array([0.0])})[0] == math.inf


@pytest.mark.parametrize(
    ("source", "allowed", "message"),
    [
        ("数量 * fcc", {"数量"}, '第 1 行第 6 列：未知变量 "fcc"'),
        ("quantity * fcc", {"quantity"}, '第 1 行第 12 列：未知变量 "fcc"'),
        ("foo(a)", None, '第 1 行第 1 列：未知函数 "foo"'),
        ("a + os.system", None, "第 1 行第 5 列：不允许访问属性（.）"),
        ("a[0]", None, "第 1 行第 1 列：不允许下标访问（[]）"),
        ("lambda: 1", None, "第 1 行第 1 列：不允许使用 lambda"),
        ("[x for x in a]", None, "第 1 行第 1 列：不允许使用推导式"),
        ("'abc' + a", None, "第 1 行第 1 列：不允许使用字符串"),
        ("a % 2", None, "第 1 行第 1 列：不支持的运算符（只允许 + - * / **）"),
        ("a in b", None, "第 1 行第 1 列：不支持的比较运算（只允许 < <= > >= == !=）"),
        ("__import__('os')", None, '第 1 行第 1 列：未知函数 "__import__"'),
        ("_secret + 1", None, '第 1 行第 1 列：变量名不能以下划线开头："_secret"'),
        ("min + 1", None, '第 1 行第 1 列："min" 是函数名，不能作为变量使用'),
        ("min(a)", None, "第 1 行第 1 列：函数 min 需要 至少 2 个参数，实际 1 个"),
        ("round(a, b)", None, "第 1 行第 10 列：round 的小数位数必须是整数常量"),
        ("abs(x=1)", None, "第 1 行第 1 列：函数 abs 不接受命名参数"),
        ("a +* b", None, "第 1 行第 4 列：语法错误"),
        ("(a + b", None, "第 1 行第 1 列：括号未闭合"),
        ("a if b", None, "第 1 行第 1 列：条件表达式缺少 else"),
        ("(a +\n fcc)", {"a"}, '第 2 行第 2 列：未知变量 "fcc"'),
    ],
)
def test_errors_are_chinese_with_line_and_column(
    source: str, allowed: set[str] | None, message: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, allowed)
    assert str(info.value) == message
    assert info.value.line is not None and info.value.column is not None


def test_source_length_and_node_count_are_bounded() -> None:
    with pytest.raises(ExpressionError, match="表达式过长"):
        compile_expression("a + " * (MAX_SOURCE_LENGTH // 4) + "a")
    with pytest.raises(ExpressionError, match="表达式过于复杂"):
        compile_expression(" + ".join(["a"] * (MAX_NODES + 1)))


def test_empty_expression_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="表达式为空"):
        compile_expression("   ")


def test_missing_variable_at_evaluation_is_reported() -> None:
    with pytest.raises(ExpressionError, match='缺少变量的值："b"'):
        compile_expression("a + b").evaluate({"a": 1.0})


def test_compiled_code_has_no_builtins() -> None:
    """Even a name that is a builtin in Python is just an unknown variable here."""
    expr = compile_expression("len")
    with pytest.raises(ExpressionError):
        expr.evaluate({})


_FORMULAS = [
    "q * n * c * o * 44 / 12",
    "if_null(e / n, c * o * 44 / 12)",
    "q * if_null(p, 1) * e",
    "q if q > 0 else -q",
    "clamp(q, -5, 5) + min(c, o) - max(n, e)",
    "(q > 1 and n < 2) + (not (c == o))",
    "round(q * c, 3) + abs(n - e)",
    "sum(q, n, c) / (o + 1)",
    "q ** 2 - sqrt(abs(n))",
]
_floats = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.just(math.nan),
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    source=st.sampled_from(_FORMULAS),
    rows=st.lists(st.tuples(*[_floats] * 6), min_size=1, max_size=20),
)
def test_vectorised_equals_row_by_row(source: str, rows: list[tuple[float, ...]]) -> None:
    """One NumPy evaluation gives exactly what evaluating each row on its own gives."""
    expr = compile_expression(source)
    names = ("q", "n", "c", "o", "p", "e")
    columns = {name: np.array([r[i] for r in rows]) for i, name in enumerate(names)}
    vector = expr.evaluate_vector({v: columns[v] for v in expr.variables}, len(rows))
    for i, row in enumerate(rows):
        scalar = float(expr.evaluate_scalar({v: row[names.index(v)] for v in expr.variables}))
        assert (math.isnan(scalar) and math.isnan(vector[i])) or scalar == pytest.approx(
            float(vector[i]), rel=1e-12, abs=1e-12
        )


def test_unit_check_infers_the_result_dimension() -> None:
    dims = {
        "quantity": Dimension.of(mass=1),
        "ncv": Dimension.of(energy=1, mass=-1),
        "ef": Dimension.of(co2_mass=1, energy=-1),
    }
    result = check_units(compile_expression("quantity * ncv * ef"), dims)
    assert result == Dimension.of(co2_mass=1)
    assert result == Dimension.of_unit("tCO2")
    assert check_units(compile_expression("quantity * ncv"), dims) == Dimension.of_unit("GJ")


def test_unit_check_reports_adding_mass_to_energy_in_chinese() -> None:
    dims = {"quantity": Dimension.of_unit("t"), "heat": Dimension.of_unit("GJ")}
    with pytest.raises(ExpressionError) as info:
        check_units(compile_expression("quantity + heat"), dims)
    assert str(info.value) == "第 1 行第 1 列：单位不一致：不能将“质量”与“能量”相加"


def test_unit_check_accepts_bare_numbers_and_checks_the_expected_result() -> None:
    dims = {"q": Dimension.of_unit("t")}
    assert check_units(compile_expression("q * 2 + 1"), dims) == Dimension.of_unit("t")
    assert check_units(compile_expression("q ** 2 / q"), dims) == Dimension.of_unit("t")
    with pytest.raises(ExpressionError, match="结果的单位为“质量”，应为“二氧化碳质量”"):
        check_units(compile_expression("q"), dims, expected=Dimension.of_unit("tCO2"))
    with pytest.raises(ExpressionError, match="单位不一致"):
        check_units(compile_expression("q if q > 1 else q * q"), dims)
