"""Platform accounting: runs of ``orgcarbon.rules.compute`` over stored data, results with lineage.

``rules/`` is the pure engine; this package loads its inputs from the database, stores what it
returns, explains stored figures and moves activity packages in and out of the platform.
"""
