"""report_templates: see README.md for what lives here."""
