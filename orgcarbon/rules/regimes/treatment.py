"""Apply a regime's model to activity records: keep, reclassify or exclude each, and say why.

The records are the platform's own (the same rows GB/T accounts); nothing is copied into the
regime. A kept record keeps its row number and id, so every regime line can be traced to the
activity record and compared with its GB/T line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from orgcarbon.rules.model import AccountingModel, CategoryRule, category_from_label, default_model
from orgcarbon.rules.products import is_product_category
from orgcarbon.rules.records import RecordRow
from orgcarbon.rules.regimes.definition import Evidence, Regime, RegimeError

__all__ = ["KEPT", "PRODUCT", "RECLASSIFIED", "Treated", "record_key", "regime_model", "treat"]

KEPT, RECLASSIFIED, EXCLUDED, PRODUCT = "kept", "reclassified", "excluded", "product"


def record_key(row: RecordRow) -> str:
    """A record's identity across computations: its stored id, else its row number."""
    return row.id if row.id is not None else f"row:{row.row}"


@dataclass(frozen=True)
class Treated:
    """One record as the regime takes it: the record to account (or None) and why."""

    original: RecordRow
    row: RecordRow | None  # what the regime accounts (None: excluded)
    action: str  # kept | reclassified | excluded | product
    reason: str = ""
    driver: str = ""  # reconciliation driver of the difference it makes
    evidence: Evidence | None = None

    @property
    def key(self) -> str:
        """The record's identity (see ``record_key``)."""
        return record_key(self.original)


def treat(regime: Regime, rows: Sequence[RecordRow]) -> list[Treated]:
    """Each record kept, reclassified or excluded under ``regime``'s categories (input order)."""
    found = []
    for row in rows:
        if is_product_category(row.category):
            found.append(Treated(row, row, PRODUCT))
            continue
        category = category_from_label(row.category) or row.category
        rule = next(
            (
                r
                for r in regime.reclassify
                if r.category == category
                and row.material in r.materials
                and (row.quantity < 0 or not r.negative_only)
            ),
            None,
        )
        if rule is not None:
            moved = replace(
                row,
                category=rule.to,
                material=rule.materials[row.material],
                quantity=abs(row.quantity),
                ncv=None,
                cc=None,
                of=None,
                ef=None,
                purity=None,
            )
            found.append(Treated(row, moved, RECLASSIFIED, rule.reason, rule.driver, rule.evidence))
            continue
        treatment = regime.treatment(category)
        if treatment is None:
            raise RegimeError(
                f"口径“{regime.name}”没有规定类别 {category} 如何处理（第 {row.row} 行）"
            )
        if treatment.counted:
            found.append(
                Treated(row, replace(row, category=category), KEPT, evidence=treatment.evidence)
            )
        else:
            found.append(
                Treated(row, None, EXCLUDED, treatment.reason, treatment.driver, treatment.evidence)
            )
    return found


def regime_model(regime: Regime) -> AccountingModel:
    """The regime's counted categories as an engine model (formulas of the GB/T default model)."""
    templates = {r.category: r for r in default_model().rules}
    rules = tuple(
        CategoryRule(
            c.category,
            c.term,
            c.sign,
            templates[c.category].scope,
            templates[c.category].factor_kind,
            templates[c.category].formula,
            templates[c.category].material,
        )
        for c in regime.categories
        if c.counted
    )
    return AccountingModel(
        name=f"{regime.name} 模型",
        version=regime.version,
        standard=regime.standard,
        rules=rules,
        regime=regime.key,
    )
