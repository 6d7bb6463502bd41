"""Security manager, roles, data scope, audit trail, SM2/SM3/SM4 and keys."""
