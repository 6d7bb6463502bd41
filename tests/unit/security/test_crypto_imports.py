"""security/crypto stays pure: importing all of it pulls in neither Flask nor SQLAlchemy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import orgcarbon.security.crypto


def test_importing_crypto_does_not_import_flask_or_sqlalchemy() -> None:
    package = orgcarbon.security.crypto
    modules = [package.__name__] + [
        f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
    ]
    assert f"{package.__name__}.envelope" in modules and f"{package.__name__}.fields" in modules
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
