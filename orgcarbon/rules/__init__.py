"""Pure-Python accounting core: expressions, units, factors, the engine and activity packages.

Nothing here imports Flask or SQLAlchemy; functions take plain values and return dataclasses.
The ``calc`` command lives in ``orgcarbon.rules.calc`` (it needs click) and is not imported here.
"""

from __future__ import annotations

from orgcarbon.rules.accounting import AccountingContext, AccountingError, compute
from orgcarbon.rules.dimensions import Dimension, check_units
from orgcarbon.rules.expressions import Expression, ExpressionError, compile_expression
from orgcarbon.rules.factor_pack import default_library, load_factor_library
from orgcarbon.rules.factors import Factor, FactorLibrary, FactorNotFoundError, GridChoice
from orgcarbon.rules.issues import Issue, RejectedError
from orgcarbon.rules.model import AccountingModel, CategoryRule, Formula, default_model
from orgcarbon.rules.package import Package, PackageError, parse_package, read_package
from orgcarbon.rules.records import RecordRow, Records
from orgcarbon.rules.results import Result, ResultLine, Rollup
from orgcarbon.rules.units import UnitError, UnitTable, convert, default_units

__all__ = [
    "AccountingContext",
    "AccountingError",
    "AccountingModel",
    "CategoryRule",
    "Dimension",
    "Expression",
    "ExpressionError",
    "Factor",
    "FactorLibrary",
    "FactorNotFoundError",
    "Formula",
    "GridChoice",
    "Issue",
    "Package",
    "PackageError",
    "RecordRow",
    "Records",
    "RejectedError",
    "Result",
    "ResultLine",
    "Rollup",
    "UnitError",
    "UnitTable",
    "check_units",
    "compile_expression",
    "compute",
    "convert",
    "default_library",
    "default_model",
    "default_units",
    "load_factor_library",
    "parse_package",
    "read_package",
]
