"""Regimes as data: which categories count and how, which factors apply, which processes are which.

A regime pack is a JSON document (``orgcarbon-regime/1``) shipped under ``orgcarbon/regimes/packs/``
and read here by path, so that ``rules/`` never imports the platform package. Every rule carries
its evidence grade (methodology.md §0): A read in an official text, B an official notice
reproduced, C two third-party sources agree, D one unverified source, X not found.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from orgcarbon.rules.model import CATEGORY_NAMES, TERMS

__all__ = [
    "DRIVER_NAMES",
    "GBT_KEY",
    "GBT_NAME",
    "GRADE_NAMES",
    "PACK_DIR",
    "REGIME_FORMAT",
    "CategoryTreatment",
    "Constant",
    "Evidence",
    "FactorGroup",
    "ProcessType",
    "Reclassification",
    "Regime",
    "RegimeError",
    "ReportTemplate",
    "load_regime",
    "regime_from_dict",
    "shipped_regimes",
]

REGIME_FORMAT = "orgcarbon-regime/1"
# Read by path (like factor_pack reads the metamodel's packs): rules/ imports no platform code.
PACK_DIR = Path(__file__).resolve().parents[2] / "regimes" / "packs"
GBT_KEY = "gbt32151_5"
GBT_NAME = "GB/T 32151.5-2015"

GRADE_NAMES: dict[str, str] = {
    "A": "A：官方原文",
    "B": "B：官方通知的转载",
    "C": "C：两个以上第三方来源一致，原文未核实",
    "D": "D：单一第三方来源，未核实",
    "X": "X：未找到",
    "U": "U：组织设置或供应商提供",
}
DRIVER_NAMES: dict[str, str] = {
    "indirect": "间接排放（电力、热力）",
    "deductions": "扣减项（固碳产品 / 含碳产品）",
    "boundaries": "核算边界",
    "factors": "排放因子",
    "waste_gases": "废气与可测热（CBAM 规则）",
}
LEVELS = ("process", "captive_power", "other")
KINDS = ("direct", "cbam")


class RegimeError(ValueError):
    """A regime pack or setting that cannot be used; the message is Chinese."""


@dataclass(frozen=True)
class Evidence:
    """How sure a rule or value is: its grade and the reason."""

    grade: str
    basis: str = ""

    @property
    def label(self) -> str:
        """The grade with its Chinese meaning."""
        return GRADE_NAMES.get(self.grade, self.grade)

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"grade": self.grade, "label": self.label, "basis": self.basis}


@dataclass(frozen=True)
class CategoryTreatment:
    """What a regime does with the records of one category."""

    category: str
    counted: bool
    term: str
    sign: int
    label: str
    reason: str  # why it is not counted (counted: empty)
    driver: str  # the reconciliation driver of a difference it causes
    evidence: Evidence


@dataclass(frozen=True)
class Reclassification:
    """Records of ``category`` (of these materials, maybe only negative ones) counted as ``to``."""

    category: str
    materials: Mapping[str, str]  # material → material name under the new category
    negative_only: bool
    to: str
    reason: str
    driver: str
    evidence: Evidence


@dataclass(frozen=True)
class FactorGroup:
    """The factor regimes tried in order for one kind of factor, and why."""

    regimes: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class ProcessType:
    """A process type of a regime (焦化工序 …) and the level of the summary it belongs to."""

    key: str
    name: str
    level: str  # process | captive_power | other


@dataclass(frozen=True)
class Constant:
    """A number a regime's rules use (EF of natural gas, Corr_η), with its source."""

    key: str
    name: str
    value: float
    unit: str
    evidence: Evidence


@dataclass(frozen=True)
class ReportTemplate:
    """An output document of a regime (workbook, official template)."""

    key: str
    name: str
    format: str
    file: str
    sha256: str
    evidence: Evidence


@dataclass(frozen=True)
class Regime:
    """One regime: its model (categories), factor set, process types and outputs, all as data."""

    key: str
    name: str
    name_en: str
    version: str
    kind: str  # direct (national carbon market) | cbam
    standard: str
    evidence: Evidence
    categories: tuple[CategoryTreatment, ...]
    reclassify: tuple[Reclassification, ...]
    factor_set: Mapping[str, FactorGroup]  # fuel | process | fixed_carbon | heat
    process_types: tuple[ProcessType, ...] = ()
    process_map: Mapping[str, str] = field(default_factory=dict)
    default_process_type: str = ""
    process_map_evidence: Evidence | None = None
    summary: tuple[tuple[str, str], ...] = ()
    summary_evidence: Evidence | None = None
    constants: Mapping[str, Constant] = field(default_factory=dict)
    report_templates: tuple[ReportTemplate, ...] = ()
    sections: Mapping[str, Any] = field(default_factory=dict)  # kind-specific sections

    def treatment(self, category: str) -> CategoryTreatment | None:
        """The treatment of ``category``, or None if the regime does not name it."""
        return next((c for c in self.categories if c.category == category), None)

    def process_type(self, key: str) -> ProcessType | None:
        """The process type ``key``, or None."""
        return next((t for t in self.process_types if t.key == key), None)

    def constant(self, key: str) -> Constant:
        """A constant of the regime; raise ``RegimeError`` if the pack lacks it."""
        if key not in self.constants:
            raise RegimeError(f"口径“{self.name}”缺少常数 {key}")
        return self.constants[key]

    def template(self, key: str | None = None) -> ReportTemplate | None:
        """The report template ``key`` (default: the first one)."""
        if key is None:
            return self.report_templates[0] if self.report_templates else None
        return next((t for t in self.report_templates if t.key == key), None)


def _text(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise RegimeError(f"{where}：缺少文本字段 {key}")
    return value


def _evidence(data: Any, where: str) -> Evidence:
    if not isinstance(data, Mapping) or data.get("grade") not in GRADE_NAMES:
        raise RegimeError(f"{where}：证据等级（evidence.grade）应为 {'/'.join(GRADE_NAMES)} 之一")
    return Evidence(str(data["grade"]), str(data.get("basis") or ""))


def _category(data: Mapping[str, Any], where: str) -> CategoryTreatment:
    category = _text(data, "category", where)
    if category not in CATEGORY_NAMES:
        raise RegimeError(f"{where}：未知类别 {category}")
    counted = bool(data.get("counted"))
    term = str(data.get("term") or "")
    sign = int(data.get("sign") or 1)
    if counted and (term not in TERMS or sign not in (1, -1)):
        raise RegimeError(f"{where}：类别 {category} 的核算项或符号无效")
    driver = str(data.get("driver") or "")
    if not counted and driver not in DRIVER_NAMES:
        raise RegimeError(
            f"{where}：不计入的类别 {category} 需要对账驱动因素 driver（{'/'.join(DRIVER_NAMES)}）"
        )
    return CategoryTreatment(
        category=category,
        counted=counted,
        term=term,
        sign=sign,
        label=str(data.get("label") or CATEGORY_NAMES[category]),
        reason=str(data.get("reason") or ""),
        driver=driver,
        evidence=_evidence(data.get("evidence"), f"{where} 类别 {category}"),
    )


def _reclassification(data: Mapping[str, Any], where: str) -> Reclassification:
    category, to = _text(data, "category", where), _text(data, "to", where)
    materials = data.get("materials")
    if category not in CATEGORY_NAMES or to not in CATEGORY_NAMES:
        raise RegimeError(f"{where}：重分类的类别无效（{category} → {to}）")
    if not isinstance(materials, Mapping) or not materials:
        raise RegimeError(f"{where}：重分类需要物料表 materials")
    driver = str(data.get("driver") or "deductions")
    if driver not in DRIVER_NAMES:
        raise RegimeError(f"{where}：未知的对账驱动因素 {driver}")
    return Reclassification(
        category=category,
        materials={str(k): str(v) for k, v in materials.items()},
        negative_only=bool(data.get("negative_only")),
        to=to,
        reason=str(data.get("reason") or ""),
        driver=driver,
        evidence=_evidence(data.get("evidence"), f"{where} 重分类 {category} → {to}"),
    )


def _factor_set(data: Any, where: str) -> dict[str, FactorGroup]:
    if not isinstance(data, Mapping) or not data:
        raise RegimeError(f"{where}：缺少因子集 factor_set")
    groups = {}
    for kind, group in data.items():
        regimes = group.get("regimes") if isinstance(group, Mapping) else None
        if (
            not isinstance(regimes, list)
            or not regimes
            or not all(isinstance(r, str) for r in regimes)
        ):
            raise RegimeError(f"{where}：因子集 {kind} 需要按顺序列出的因子口径 regimes")
        groups[str(kind)] = FactorGroup(tuple(regimes), str(group.get("note") or ""))
    return groups


def _process_types(data: Mapping[str, Any], where: str) -> tuple[ProcessType, ...]:
    found = []
    for item in data.get("process_types") or ():
        level = str(item.get("level") or "process")
        if level not in LEVELS:
            raise RegimeError(
                f"{where}：工序类型 {item.get('key')} 的层级应为 {'/'.join(LEVELS)} 之一"
            )
        found.append(ProcessType(_text(item, "key", where), _text(item, "name", where), level))
    return tuple(found)


def regime_from_dict(data: Mapping[str, Any], origin: str = "口径包") -> Regime:
    """Build a regime from its JSON document; raise ``RegimeError`` naming what is wrong."""
    if data.get("format") != REGIME_FORMAT:
        raise RegimeError(f"{origin}：format 应为 {REGIME_FORMAT}")
    key = _text(data, "key", origin)
    where = f"{origin}（{key}）"
    kind = _text(data, "kind", where)
    if kind not in KINDS:
        raise RegimeError(f"{where}：kind 应为 {'/'.join(KINDS)} 之一")
    categories = tuple(
        _category(c, where) for c in data.get("categories") or () if isinstance(c, Mapping)
    )
    if len({c.category for c in categories}) != len(categories):
        raise RegimeError(f"{where}：类别重复定义")
    types = _process_types(data, where)
    type_keys = {t.key for t in types}
    process_map = {str(k): str(v) for k, v in (data.get("process_map") or {}).items()}
    default_type = str(data.get("default_process_type") or "")
    unknown = sorted({*process_map.values(), *([default_type] if default_type else [])} - type_keys)
    if types and unknown:
        raise RegimeError(f"{where}：工序映射指向未定义的工序类型 {'、'.join(unknown)}")
    constants = {
        str(k): Constant(
            str(k),
            str(c.get("name") or k),
            float(c["value"]),
            str(c.get("unit") or ""),
            _evidence(c.get("evidence"), f"{where} 常数 {k}"),
        )
        for k, c in (data.get("constants") or {}).items()
    }
    templates = tuple(
        ReportTemplate(
            _text(t, "key", where),
            _text(t, "name", where),
            str(t.get("format") or "xlsx"),
            str(t.get("file") or ""),
            str(t.get("sha256") or ""),
            _evidence(t.get("evidence"), f"{where} 报告模板 {t.get('key')}"),
        )
        for t in data.get("report_templates") or ()
    )
    known = {
        "format",
        "key",
        "name",
        "name_en",
        "version",
        "kind",
        "standard",
        "evidence",
        "categories",
        "reclassify",
        "factor_set",
        "process_types",
        "process_map",
        "default_process_type",
        "process_map_evidence",
        "summary",
        "summary_evidence",
        "constants",
        "report_templates",
    }
    return Regime(
        key=key,
        name=_text(data, "name", where),
        name_en=str(data.get("name_en") or ""),
        version=str(data.get("version") or "1"),
        kind=kind,
        standard=_text(data, "standard", where),
        evidence=_evidence(data.get("evidence"), where),
        categories=categories,
        reclassify=tuple(_reclassification(r, where) for r in data.get("reclassify") or ()),
        factor_set=_factor_set(data.get("factor_set"), where),
        process_types=types,
        process_map=process_map,
        default_process_type=default_type,
        process_map_evidence=(
            _evidence(data["process_map_evidence"], where)
            if "process_map_evidence" in data
            else None
        ),
        summary=tuple((str(s["key"]), str(s["name"])) for s in data.get("summary") or ()),
        summary_evidence=(
            _evidence(data["summary_evidence"], where) if "summary_evidence" in data else None
        ),
        constants=constants,
        report_templates=templates,
        sections={k: v for k, v in data.items() if k not in known},
    )


def load_regime(path: str | Path) -> Regime:
    """Read one regime pack file."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return regime_from_dict(data, Path(path).name)


@lru_cache(maxsize=1)
def shipped_regimes() -> dict[str, Regime]:
    """The regimes shipped with the platform (every ``*.json`` pack of ``PACK_DIR``), by key."""
    found: dict[str, Regime] = {}
    for path in sorted(PACK_DIR.glob("*.json")):
        regime = load_regime(path)
        found[regime.key] = regime
    return found
