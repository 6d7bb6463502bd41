"""Where an organisation's regime settings live: a JSON file per node, editable copy over shipped one.

No table holds them (the schema is fixed): ``<instance>/regimes/<USCC or org-ID>.json`` is the
editable copy; ``orgcarbon/regimes/packs/organizations/<USCC>.json`` ships the demo enterprise's.
A node without either takes its nearest ancestor's settings, and the root without any takes the
defaults (every shipped regime on, the regime packs' own mappings). Reading never writes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Organization
from orgcarbon.rules.regimes import (
    OrgSettings,
    RegimeError,
    installation_from_dict,
    settings_from_dict,
    shipped_regimes,
)
from orgcarbon.rules.regimes.definition import PACK_DIR

SHIPPED_DIR = PACK_DIR / "organizations"
FOLDER = "regimes"


@dataclass(frozen=True)
class Found:
    """Settings in force for a node: the settings, the node that owns them (None: defaults), the file."""

    settings: OrgSettings
    owner: Organization | None
    path: Path | None
    editable: bool  # True: the instance copy; False: shipped or defaults


def file_key(org: Organization) -> str:
    """The file name (without .json) of a node's settings: its USCC, else ``org-<id>``."""
    return org.uscc or f"org-{org.id}"


def instance_path(instance: str | os.PathLike[str], org: Organization) -> Path:
    """The editable copy of a node's settings."""
    return Path(instance) / FOLDER / f"{file_key(org)}.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegimeError(f"口径设置文件 {path.name} 无法读取：{exc}") from exc
    if not isinstance(data, dict):
        raise RegimeError(f"口径设置文件 {path.name} 应为 JSON 对象")
    return data


def own_settings(instance: str | os.PathLike[str], org: Organization) -> Found | None:
    """The node's own settings (editable copy first, then the shipped file), or None."""
    for path, editable in ((instance_path(instance, org), True),
                           (SHIPPED_DIR / f"{org.uscc}.json" if org.uscc else None, False)):
        if path is not None and path.is_file():
            settings = settings_from_dict(_read(path), shipped_regimes(), f"{org.name} 的口径设置")
            return Found(settings, org, path, editable)
    return None


def settings_for(session: Session, instance: str | os.PathLike[str], org_id: int) -> Found:
    """The settings in force for ``org_id``: its own or its nearest ancestor's, else the defaults."""
    node = session.get(Organization, org_id)
    seen: set[int] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        found = own_settings(instance, node)
        if found is not None:
            return found
        node = node.parent
    return Found(OrgSettings(), None, None, False)


def save_settings(instance: str | os.PathLike[str], org: Organization, data: dict[str, Any]) -> Found:
    """Validate ``data`` and write it as the node's editable copy; raise ``RegimeError`` if unusable."""
    settings = settings_from_dict(data, shipped_regimes(), f"{org.name} 的口径设置")
    for regime in shipped_regimes().values():
        installation = settings.section(regime.key).get("installation")
        if regime.kind == "cbam" and installation is not None:
            installation_from_dict(installation, regime)  # refuse what the CBAM page could not use
    path = instance_path(instance, org)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return Found(settings, org, path, True)


def document(found: Found) -> dict[str, Any]:
    """The settings as the JSON document an editor shows (the file's content when there is one)."""
    if found.path is not None:
        return _read(found.path)
    return found.settings.as_dict()
