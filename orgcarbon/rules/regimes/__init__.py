"""Regimes: one data set accounted three ways — GB/T 32151.5, the national carbon market, EU CBAM.

Pure like the rest of ``rules/``: plain values in, dataclasses out, no Flask or SQLAlchemy. A
regime is data (``orgcarbon/regimes/packs/*.json``): an accounting model (categories → terms,
signs, which count), a factor set (factor regimes in order, fallbacks listed) and a process
mapping; an organisation's settings choose regimes and describe its CBAM installation.
"""

from __future__ import annotations

from orgcarbon.rules.regimes.cbam import CbamResult, compute_cbam
from orgcarbon.rules.regimes.cbam_settings import CbamInstallation, installation_from_dict
from orgcarbon.rules.regimes.definition import (
    DRIVER_NAMES,
    GBT_KEY,
    GBT_NAME,
    GRADE_NAMES,
    Evidence,
    Regime,
    RegimeError,
    regime_from_dict,
    shipped_regimes,
)
from orgcarbon.rules.regimes.national_ets import EtsResult, compute_national_ets
from orgcarbon.rules.regimes.reconcile import Reconciliation, reconcile
from orgcarbon.rules.regimes.settings import OrgSettings, settings_from_dict

__all__ = [
    "DRIVER_NAMES",
    "GBT_KEY",
    "GBT_NAME",
    "GRADE_NAMES",
    "CbamInstallation",
    "CbamResult",
    "EtsResult",
    "Evidence",
    "OrgSettings",
    "Reconciliation",
    "Regime",
    "RegimeError",
    "compute_cbam",
    "compute_national_ets",
    "installation_from_dict",
    "reconcile",
    "regime_from_dict",
    "settings_from_dict",
    "shipped_regimes",
]
