"""Names of incoming rows → ids: organisation, sub-process and material, within an allowed subtree.

Loaded once per batch (four small queries), then every row is resolved in memory. A name that
exists but lies outside the allowed subtree is refused with a different reason than a name that
does not exist at all, so a third party learns that it asked for data it may not write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Material, Organization, SubProcess, Unit
from orgcarbon.rules.units import UnitError, UnitTable, default_units


class Unresolved(ValueError):
    """A name could not be resolved; ``str()`` is the Chinese reason for the rejected row."""


@dataclass
class NameIndex:
    """Everything needed to resolve the names of one batch, without further queries."""

    allowed: frozenset[int] | None  # organisation ids that may be written; None: every node
    default_org: int | None  # used when a row names no organisation
    org_names: dict[str, list[int]]  # every organisation by name (also those outside ``allowed``)
    children: dict[int | None, list[int]]
    subs_by_name: dict[str, list[tuple[int, int]]]  # name → [(sub-process id, organisation id)]
    materials: dict[str, int]
    units: UnitTable
    _subtrees: dict[int, frozenset[int]] = field(default_factory=dict)

    def subtree(self, org_id: int) -> frozenset[int]:
        """``org_id`` and every node below it (cached per batch)."""
        found = self._subtrees.get(org_id)
        if found is None:
            seen: set[int] = set()
            stack = [org_id]
            while stack:
                node = stack.pop()
                if node not in seen:
                    seen.add(node)
                    stack.extend(self.children.get(node, ()))
            found = self._subtrees[org_id] = frozenset(seen)
        return found

    def organization(self, name: str | None) -> int:
        """The id of the organisation called ``name`` inside the allowed subtree."""
        if not name:
            if self.default_org is None:
                raise Unresolved("缺少组织")
            return self.default_org
        ids = self.org_names.get(name, [])
        inside = ids if self.allowed is None else [i for i in ids if i in self.allowed]
        if len(inside) == 1:
            return inside[0]
        if len(inside) > 1:
            raise Unresolved(f"组织名称“{name}”在数据范围内不唯一")
        if ids:
            raise Unresolved(f"组织“{name}”不在数据范围内")
        raise Unresolved(f"未知组织“{name}”")

    def sub_process(self, name: str, org_id: int) -> tuple[int, int]:
        """(sub-process id, its organisation id) for ``name`` below ``org_id``."""
        below = self.subtree(org_id)
        matches = [m for m in self.subs_by_name.get(name, ()) if m[1] in below]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise Unresolved(f"子工序名称“{name}”在该组织下不唯一，请写明下级组织")
        raise Unresolved(f"组织下没有子工序“{name}”")

    def material(self, name: str) -> int:
        """The id of the material called ``name``."""
        found = self.materials.get(name)
        if found is None:
            raise Unresolved(f"未知物料“{name}”")
        return found

    def unit(self, symbol: str) -> str:
        """The canonical symbol of ``symbol`` (aliases resolved)."""
        try:
            return self.units.canonical(symbol)
        except UnitError:
            raise Unresolved(f"未知单位“{symbol}”") from None


def unit_table(session: Session) -> UnitTable:
    """The platform's units (``mm_unit`` with aliases); the built-in table while it is empty."""
    rows = session.execute(
        select(Unit.symbol, Unit.dimension, Unit.factor, Unit.name_zh, Unit.aliases)
    ).all()
    if not rows:
        return default_units()
    return UnitTable.from_records(
        {
            "symbol": r.symbol,
            "dimension": r.dimension,
            "factor": r.factor,
            "name_zh": r.name_zh,
            "aliases": [a.strip() for a in (r.aliases or "").replace("，", ",").split(",") if a.strip()],
        }
        for r in rows
    )


def load_index(
    session: Session, allowed_roots: Iterable[int] | None, default_org: int | None
) -> NameIndex:
    """Build the index for writers limited to the subtrees of ``allowed_roots`` (None: all)."""
    children: dict[int | None, list[int]] = {}
    org_names: dict[str, list[int]] = {}
    for org_id, parent_id, name in session.execute(
        select(Organization.id, Organization.parent_id, Organization.name)
    ):
        children.setdefault(parent_id, []).append(org_id)
        org_names.setdefault(name, []).append(org_id)
    index = NameIndex(None, default_org, org_names, children, {}, {}, default_units())
    if allowed_roots is not None:
        allowed: set[int] = set()
        for root in allowed_roots:
            allowed |= index.subtree(root)
        index.allowed = frozenset(allowed)
    query = select(SubProcess.id, SubProcess.organization_id, SubProcess.name)
    if index.allowed is not None:
        query = query.where(SubProcess.organization_id.in_(sorted(index.allowed)))
    for sub_id, org_id, name in session.execute(query):
        index.subs_by_name.setdefault(name, []).append((sub_id, org_id))
    index.materials = {name: id_ for name, id_ in session.execute(select(Material.name, Material.id))}
    index.units = unit_table(session)
    return index
