"""System collection on the platform: connector instances, watermarks, API clients, interface log.

The connector core (no Flask, no SQLAlchemy) is ``orgcarbon/connectors/``; this package stores its
configuration and state and runs it.
"""
