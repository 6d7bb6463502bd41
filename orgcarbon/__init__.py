"""orgcarbon — 组织碳平台, the organisation carbon emission management platform for steel producers."""

__version__ = "0.1.0"
