"""Reports in the platform: template management (upload, check, versions, activation per
organisation), rendering of accounting runs as a task, stored and signed report files.

The file-level work (render context, rendering, checks, built-in templates, packages) lives in
``orgcarbon.report_templates`` and needs no Flask; this package stores and serves it.
"""
