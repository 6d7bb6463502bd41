"""Data quality on the platform: staging rows, rule definitions as versioned data, runs and findings.

The engines are pure and live in ``orgcarbon/rules/quality/``; this package stores what they read
and what they find.
"""
