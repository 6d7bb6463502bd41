"""Entity definitions as data, generated views and APIs, industry packs and demo data.

Keep this module free of Flask imports: ``orgcarbon.rules`` reads the packs' data files.
"""
