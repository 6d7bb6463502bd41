"""Report templates: render context, variable catalogue, checks, rendering, signed packages.

No Flask, no SQLAlchemy. Modules (import what you need; matplotlib loads only with rendering):

- ``context.build_context(result, ReportInfo)`` → the render context (plain values)
- ``catalogue.CATALOGUE`` / ``catalogue_markdown()`` / ``example_context()``
- ``checks.check_template(data, filename)`` → ``CheckReport`` with located Chinese issues
- ``generate.render_template`` / ``render_builtin`` / ``preview_template`` / ``report_from_package``
- ``tables.supplementary_workbook(context)`` → generated .xlsx (write-only)
- ``package.build_report_package`` / ``verify_report_package`` (SM3 + SM2)
- ``builtin.BUILTIN`` and ``builtin/build.py`` (regenerates the shipped templates)
"""
