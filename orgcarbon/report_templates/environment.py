"""The one Jinja environment that renders, checks and previews report templates."""

from __future__ import annotations

import jinja2

from orgcarbon.report_templates.numbers import FILTERS

__all__ = ["JINJA_GLOBALS", "RenderError", "make_environment"]

# Names Jinja itself provides inside templates; never reported as unknown variables.
JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop"})


class RenderError(ValueError):
    """A template could not be rendered; ``str()`` is a Chinese message for the user."""


def make_environment(autoescape: bool = False) -> jinja2.Environment:
    """Jinja with the report filters; undefined names raise instead of printing nothing."""
    # StrictUndefined: a template that slipped past the checks must fail loudly, not hand in a
    # report with blanks where the figures should be.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=autoescape)
    env.filters.update(FILTERS)
    return env
