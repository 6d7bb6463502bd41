"""rules.quality stays pure: importing every module pulls in neither Flask nor SQLAlchemy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import orgcarbon.rules.quality


def test_importing_quality_does_not_import_flask_or_sqlalchemy() -> None:
    modules = ["orgcarbon.rules.quality"] + [
        f"orgcarbon.rules.quality.{m.name}"
        for m in pkgutil.iter_modules(orgcarbon.rules.quality.__path__)
    ]
    assert "orgcarbon.rules.quality.inference" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'sqlalchemy', 'flask_appbuilder'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
