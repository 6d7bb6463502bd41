"""An organisation's regime settings: which regimes it reports under, its templates and mappings.

The settings are a JSON document (``orgcarbon-regime-settings/1``); the platform keeps an editable
copy per organisation and ships the demo enterprise's. Parsing is pure and refuses anything it
cannot use with a Chinese reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orgcarbon.rules.regimes.definition import GBT_KEY, Regime, RegimeError

__all__ = ["SETTINGS_FORMAT", "OrgSettings", "process_type_of", "settings_from_dict"]

SETTINGS_FORMAT = "orgcarbon-regime-settings/1"


@dataclass(frozen=True)
class OrgSettings:
    """Regime settings of one organisation node (or the defaults when it has none)."""

    regimes: tuple[str, ...] | None = None  # enabled regime keys; None: every shipped regime
    report_templates: Mapping[str, str] = field(default_factory=dict)  # regime → template key
    process_maps: Mapping[str, Mapping[str, str]] = field(
        default_factory=dict
    )  # regime → overrides
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # regime → its section
    note: str = ""
    origin: str = "缺省设置"

    def enabled(self, key: str) -> bool:
        """True if the regime ``key`` is chosen (GB/T is always on)."""
        return key == GBT_KEY or self.regimes is None or key in self.regimes

    def section(self, key: str) -> Mapping[str, Any]:
        """The organisation's section for regime ``key`` (empty if none)."""
        return self.sections.get(key, {})

    def as_dict(self) -> dict[str, Any]:
        """The document form (what ``settings_from_dict`` reads)."""
        data: dict[str, Any] = {"format": SETTINGS_FORMAT}
        if self.note:
            data["note"] = self.note
        if self.regimes is not None:
            data["regimes"] = list(self.regimes)
        if self.report_templates:
            data["report_templates"] = dict(self.report_templates)
        for key in sorted({*self.process_maps, *self.sections}):
            section = dict(self.sections.get(key, {}))
            if key in self.process_maps:
                section["process_map"] = dict(self.process_maps[key])
            data[key] = section
        return data


def settings_from_dict(
    data: Mapping[str, Any], regimes: Mapping[str, Regime], origin: str = "组织设置"
) -> OrgSettings:
    """Parse a settings document against the known ``regimes``; raise ``RegimeError`` if unusable."""
    if data.get("format") != SETTINGS_FORMAT:
        raise RegimeError(f"{origin}：format 应为 {SETTINGS_FORMAT}")
    chosen = data.get("regimes")
    if chosen is not None:
        if not isinstance(chosen, list) or not all(isinstance(k, str) for k in chosen):
            raise RegimeError(f"{origin}：regimes 应为口径代码的列表")
        unknown = [k for k in chosen if k != GBT_KEY and k not in regimes]
        if unknown:
            raise RegimeError(f"{origin}：未知口径 {'、'.join(unknown)}")
    templates = {str(k): str(v) for k, v in (data.get("report_templates") or {}).items()}
    for key, template in templates.items():
        regime = regimes.get(key)
        if regime is None or regime.template(template) is None:
            raise RegimeError(f"{origin}：口径 {key} 没有报告模板 {template}")
    process_maps: dict[str, dict[str, str]] = {}
    sections: dict[str, Mapping[str, Any]] = {}
    for key, regime in regimes.items():
        section = data.get(key)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            raise RegimeError(f"{origin}：{key} 应为对象")
        overrides = section.get("process_map")
        if overrides is not None and regime.kind == "direct":
            mapped = {str(k): str(v) for k, v in overrides.items()}
            bad = sorted(v for v in set(mapped.values()) if regime.process_type(v) is None)
            if bad:
                raise RegimeError(
                    f"{origin}：{key} 的工序映射指向未定义的工序类型 {'、'.join(bad)}"
                )
            process_maps[key] = mapped
        sections[key] = {
            k: v for k, v in section.items() if not (k == "process_map" and regime.kind == "direct")
        }
    return OrgSettings(
        regimes=tuple(chosen) if chosen is not None else None,
        report_templates=templates,
        process_maps=process_maps,
        sections=sections,
        note=str(data.get("note") or ""),
        origin=origin,
    )


def process_type_of(
    regime: Regime,
    overrides: Mapping[str, str],
    site: str,
    process: str,
    template: str | None = None,
) -> tuple[str, str]:
    """(process type key, where the mapping came from) of a platform process under ``regime``.

    Order: the organisation's mapping of ``site/process``, then of ``process``; the regime's map by
    process name, then by the process's template; else the regime's default type.
    """
    for key in (f"{site}/{process}", process):
        if key in overrides:
            return overrides[key], f"组织设置（{key}）"
    if process in regime.process_map:
        return regime.process_map[process], f"口径缺省映射（{process}）"
    if template and template in regime.process_map:
        return regime.process_map[template], f"口径缺省映射（工序模板 {template}）"
    return regime.default_process_type, "未映射：归入缺省工序类型"
