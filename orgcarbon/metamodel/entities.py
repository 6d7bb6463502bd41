"""The metamodel's entity definitions: written once, turned into views, APIs and forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from orgcarbon.metamodel import choices as c
from orgcarbon.metamodel import validation as v
from orgcarbon.metamodel.models import (
    ActivityRecord,
    Material,
    Organization,
    Process,
    SubProcess,
    Unit,
    UserOrganization,
)
from orgcarbon.metamodel.spec import Entity, Field
from orgcarbon.metamodel.versioned import AccountingModel, Binding, Factor, Formula

NAME = Field("name", _l("Name"), list=True, search=True)
STATUS = Field("status", _l("Status"), list=True, search=True, choices=c.STATUS_ACTIVE)
CAPACITY = (Field("capacity", _l("Capacity")), Field("capacity_unit", _l("Capacity unit")))
VERSION = (
    Field("version", _l("Version"), list=True, form=False),
    Field("status", _l("Version status"), list=True, search=True, form=False, choices=c.VERSION_STATUS),
    Field("published_at", _l("Published at"), form=False),
    Field("superseded_at", _l("Superseded at"), form=False),
)
ORG = Field("organization", _l("Organisation"), list=True, search=True, relation="name")
SUBPROCESS = Field("subprocess", _l("Sub-process"), list=True, search=True, relation="name")
MATERIAL = Field("material", _l("Material"), list=True, search=True, relation="name")

ENTITIES: tuple[Entity, ...] = (
    Entity("organization", Organization, _l("Organisations"), "fa-sitemap", (
        NAME,
        Field("level", _l("Level"), list=True, search=True, choices=c.ORG_LEVELS),
        Field("parent", _l("Parent organisation"), list=True, search=True, relation="name"),
        Field("uscc", _l("Unified social credit code"), list=True, search=True),
        Field("address", _l("Address")),
        Field("grid_region", _l("Grid region"), list=True, search=True, choices=c.GRID_REGION_CHOICES),
        Field("contact_name", _l("Contact person")),
        Field("contact_phone", _l("Contact phone")),
        Field("contact_email", _l("Contact e-mail")),
        Field("legal_representative", _l("Legal representative")),
        # SM4-encrypted at rest, masked (110105********002X) for roles without SensitiveData.
        Field("legal_representative_id_number", _l("Legal representative ID number")),
    ), v.validate_organization, scope_column="id"),
    Entity("user_organization", UserOrganization, _l("User organisations"), "fa-user-circle", (
        Field("user", _l("User"), list=True, search=True, relation="username"),
        ORG,
    ), lambda item, session: {}, scope_column="organization_id"),
    Entity("process", Process, _l("Processes"), "fa-industry", (
        NAME, ORG,
        Field("template", _l("Standard process"), list=True, search=True),
        STATUS, *CAPACITY,
        Field("description", _l("Description")),
    ), v.validate_process, scope_column="organization_id"),
    Entity("subprocess", SubProcess, _l("Sub-processes"), "fa-cogs", (
        NAME,
        Field("main_process", _l("Process"), list=True, search=True, relation="name"),
        Field("parent", _l("Parent sub-process"), list=True, relation="name"),
        Field("organization", _l("Organisation"), list=True, search=True, form=False, relation="name"),
        STATUS, *CAPACITY,
    ), v.validate_subprocess, scope_column="organization_id"),
    Entity("unit", Unit, _l("Units"), "fa-balance-scale", (
        Field("symbol", _l("Symbol"), list=True, search=True),
        Field("name_zh", _l("Chinese name"), list=True, search=True),
        Field("dimension", _l("Dimension"), list=True, search=True, choices=c.DIMENSIONS),
        Field("factor", _l("Factor to the base unit"), list=True),
        Field("aliases", _l("Aliases"), list=True),
    ), v.validate_unit),
    Entity("material", Material, _l("Materials and media"), "fa-cubes", (
        NAME,
        Field("name_en", _l("English name"), search=True),
        Field("category", _l("Category"), list=True, search=True, choices=c.MATERIAL_CATEGORIES),
        Field("unit", _l("Unit"), list=True),
        Field("state", _l("State"), list=True, choices=c.MATERIAL_STATES),
        Field("default_parameters", _l("Default parameters")),
        Field("description", _l("Description")),
    ), v.validate_material),
    Entity("factor", Factor, _l("Emission factors"), "fa-flask", (
        Field("code", _l("Code"), list=True, search=True, edit=False),
        Field("kind", _l("Kind"), list=True, search=True, choices=c.FACTOR_KINDS),
        MATERIAL,
        Field("value", _l("Value"), list=True),
        Field("unit", _l("Unit"), list=True),
        Field("regime", _l("Regime"), list=True, search=True),
        Field("region", _l("Region"), list=True, search=True, choices=c.FACTOR_REGIONS),
        Field("year", _l("Data year"), list=True, search=True),
        Field("valid_from", _l("Valid from"), search=True),
        Field("valid_to", _l("Valid to"), search=True),
        Field("source", _l("Source document")),
        Field("clause", _l("Clause")),
        Field("grade", _l("Evidence grade"), list=True, search=True, choices=c.EVIDENCE_GRADES),
        Field("measured", _l("Measured"), search=True),
        Field("note", _l("Note")),
        *VERSION,
    ), v.validate_factor, versioned=True, order=("code", "asc")),
    Entity("formula", Formula, _l("Formulas"), "fa-superscript", (
        Field("name", _l("Name"), list=True, search=True, edit=False),
        Field("activity", _l("Activity expression"), list=True),
        Field("factor", _l("Factor expression"), list=True),
        Field("variables", _l("Variables and units")),
        Field("activity_unit", _l("Activity unit")),
        Field("factor_unit", _l("Factor unit")),
        Field("result_unit", _l("Result unit")),
        Field("description", _l("Description")),
        Field("test_cases", _l("Test cases")),
        *VERSION,
    ), v.validate_formula, versioned=True, order=("name", "asc")),
    Entity("binding", Binding, _l("Bindings"), "fa-link", (
        Field("code", _l("Code"), list=True, search=True, edit=False),
        SUBPROCESS, MATERIAL,
        Field("direction", _l("Direction"), list=True, search=True, choices=c.DIRECTIONS),
        Field("category", _l("Emission category"), list=True, search=True, choices=c.CATEGORIES),
        Field("formula", _l("Formula"), list=True, search=True, relation="name"),
        Field("organization", _l("Organisation"), list=True, search=True, form=False, relation="name"),
        *VERSION,
    ), v.validate_binding, scope_column="organization_id", versioned=True),
    Entity("accounting_model", AccountingModel, _l("Accounting models"), "fa-calculator", (
        NAME,
        Field("standard", _l("Standard"), list=True, search=True),
        Field("regime", _l("Regime"), search=True),
        Field("organization", _l("Organisation"), list=True, search=True, relation="name"),
        Field("bindings", _l("Bindings"), relation="code", many=True),
        Field("description", _l("Description")),
        *VERSION,
    ), v.validate_model, scope_column="organization_id", scope_nullable=True, versioned=True),
    Entity("activity", ActivityRecord, _l("Activity data (demo)"), "fa-table", (
        SUBPROCESS, MATERIAL,
        Field("category", _l("Emission category"), list=True, search=True, choices=c.CATEGORIES),
        Field("month", _l("Month"), list=True, search=True),
        Field("quantity", _l("Quantity"), list=True),
        Field("unit", _l("Unit"), list=True),
        Field("purity", _l("Purity")),
        Field("organization", _l("Organisation"), list=True, search=True, form=False, relation="name"),
    ), v.validate_activity, scope_column="organization_id", order=("month", "asc")),
)
