"""Accounting models as data: categories, the term each feeds, and the formulas that compute it."""

from __future__ import annotations

from dataclasses import dataclass

from orgcarbon.rules.expressions import Expression, compile_expression
from orgcarbon.rules.factors import REGIME_GBT

__all__ = [
    "CATEGORY_NAMES",
    "PARAMETERS",
    "TERMS",
    "TERM_NAMES",
    "AccountingModel",
    "CategoryRule",
    "Formula",
    "category_from_label",
    "default_model",
]

# Measured parameters a record may carry; NaN in a column means "not given, use the default".
PARAMETERS = ("ncv", "cc", "of", "purity", "ef")
VARIABLES = ("quantity", *PARAMETERS)

CATEGORY_NAMES: dict[str, str] = {
    "fuel_combustion": "燃料燃烧",
    "process_flux": "熔剂",
    "process_electrode": "电极",
    "process_raw_material": "含碳原料",
    "purchased_electricity": "购入电力",
    "exported_electricity": "输出电力",
    "purchased_heat": "购入热力",
    "exported_heat": "输出热力",
    "fixed_carbon_product": "固碳产品",
}
_CATEGORY_BY_LABEL = {**{v: k for k, v in CATEGORY_NAMES.items()}, **{k: k for k in CATEGORY_NAMES}}

TERMS = (
    "fuel_combustion",
    "process",
    "purchased_electricity",
    "purchased_heat",
    "exported_electricity",
    "exported_heat",
    "fixed_carbon",
)
TERM_NAMES: dict[str, str] = {
    "fuel_combustion": "化石燃料燃烧 E燃烧",
    "process": "工业生产过程 E过程",
    "purchased_electricity": "购入电力 E购入电",
    "purchased_heat": "购入热力 E购入热",
    "exported_electricity": "输出电力 E输出电（扣减）",
    "exported_heat": "输出热力 E输出热（扣减）",
    "fixed_carbon": "固碳产品 R固碳（扣减）",
}


def category_from_label(label: str) -> str | None:
    """Map an English key or Chinese name of a category to its key; None if unknown."""
    return _CATEGORY_BY_LABEL.get(label.strip())


@dataclass(frozen=True)
class Formula:
    """emission = activity × factor, both expressions over the record's variables."""

    name: str
    version: str
    activity: str
    factor: str
    activity_unit: str | None = None  # None: the material's own activity unit
    factor_unit: str | None = None  # None: tCO2 per activity unit
    description: str = ""

    @property
    def expression(self) -> str:
        """The whole formula as one expression string, for lineage."""
        return f"({self.activity}) * ({self.factor})"

    def compiled(self, extra: tuple[str, ...] = ()) -> tuple[Expression, Expression]:
        """Compile (cached) the activity and factor expressions."""
        names = (*VARIABLES, *extra)
        return compile_expression(self.activity, names), compile_expression(self.factor, names)


@dataclass(frozen=True)
class CategoryRule:
    """How records of one category are accounted: term, sign, scope, default factor kind."""

    category: str
    term: str
    sign: int  # +1 adds to the total, -1 is deducted
    scope: str  # "direct" or "indirect"
    factor_kind: str  # fuel | process | fixed_carbon | electricity | heat
    formula: Formula
    material: str | None = None  # the only material allowed (电力, 热力), if any


@dataclass(frozen=True)
class AccountingModel:
    """A versioned set of category rules for one standard or regime."""

    name: str
    version: str
    standard: str
    rules: tuple[CategoryRule, ...]
    regime: str = REGIME_GBT
    intensity_category: str = "fixed_carbon_product"
    intensity_material: str = "粗钢"
    extra_variables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen = [r.category for r in self.rules]
        if len(seen) != len(set(seen)):
            raise ValueError("模型中类别重复定义")
        for rule in self.rules:
            if rule.term not in TERMS or rule.sign not in (1, -1):
                raise ValueError(f"类别 {rule.category} 的核算项或符号无效")
            rule.formula.compiled(self.extra_variables)  # fail at model build, not mid-run

    def rule(self, category: str) -> CategoryRule | None:
        """Rule for ``category``, or None if the model has none."""
        return next((r for r in self.rules if r.category == category), None)

    @property
    def formulas(self) -> tuple[Formula, ...]:
        """Distinct formulas of the model, in rule order."""
        return tuple(dict.fromkeys(r.formula for r in self.rules))


_FUEL = Formula(
    name="gbt32151.5/燃料燃烧",
    version="1",
    activity="quantity * ncv",
    # A measured EF per activity unit wins; otherwise EF = CC × OF × 44/12 per GJ.
    factor="if_null(ef / ncv, cc * of * 44 / 12)",
    activity_unit="GJ",
    factor_unit="tCO2/GJ",
    description="E燃烧 = FC × NCV × CC × OF × 44/12（FC 为净消耗量）",
)
_FLUX = Formula(
    name="gbt32151.5/熔剂",
    version="1",
    activity="quantity * if_null(purity, 1)",
    factor="ef",
    description="E熔剂 = P × DX × EF（纯度 DX 默认 1）",
)
_SIMPLE = Formula(
    name="gbt32151.5/数量×因子",
    version="1",
    activity="quantity",
    factor="ef",
    description="E = AD × EF（电极、含碳原料、电力、热力、固碳产品）",
)


def default_model() -> AccountingModel:
    """The built-in GB/T 32151.5-2015 model: one rule per category of the activity package."""
    rules = (
        CategoryRule("fuel_combustion", "fuel_combustion", 1, "direct", "fuel", _FUEL),
        CategoryRule("process_flux", "process", 1, "direct", "process", _FLUX),
        CategoryRule("process_electrode", "process", 1, "direct", "process", _SIMPLE),
        CategoryRule("process_raw_material", "process", 1, "direct", "process", _SIMPLE),
        CategoryRule(
            "purchased_electricity",
            "purchased_electricity",
            1,
            "indirect",
            "electricity",
            _SIMPLE,
            "电力",
        ),
        CategoryRule(
            "exported_electricity",
            "exported_electricity",
            -1,
            "indirect",
            "electricity",
            _SIMPLE,
            "电力",
        ),
        CategoryRule("purchased_heat", "purchased_heat", 1, "indirect", "heat", _SIMPLE, "热力"),
        CategoryRule("exported_heat", "exported_heat", -1, "indirect", "heat", _SIMPLE, "热力"),
        CategoryRule("fixed_carbon_product", "fixed_carbon", -1, "direct", "fixed_carbon", _SIMPLE),
    )
    return AccountingModel(
        name="GB/T 32151.5-2015 默认模型",
        version="1",
        standard="GB/T 32151.5-2015",
        rules=rules,
    )
