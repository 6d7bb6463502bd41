"""rules/ stays pure: importing it and every module in it pulls in neither Flask nor SQLAlchemy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import orgcarbon.rules


def test_importing_rules_does_not_import_flask_or_sqlalchemy() -> None:
    modules = ["orgcarbon.rules"] + [
        f"orgcarbon.rules.{m.name}" for m in pkgutil.iter_modules(orgcarbon.rules.__path__)
    ]
    assert "orgcarbon.rules.calc" in modules and "orgcarbon.rules.accounting" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy',"
        " 'flask_appbuilder'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
