"""IP allowlists: parsing, IPv4/IPv6 networks, and the user-and-role rule."""

from __future__ import annotations

import pytest

from orgcarbon.security.ip_allowlist import (
    IpListError,
    contains,
    decide,
    normalise_ip_list,
    parse_ip_list,
)


def test_addresses_and_networks_of_both_families_are_parsed_and_written_one_way() -> None:
    text = "10.0.0.0/8，192.168.1.20\n2001:db8::/32; 10.1.2.3/16"
    assert normalise_ip_list(text) == "10.0.0.0/8, 192.168.1.20, 2001:db8::/32, 10.1.0.0/16"
    assert normalise_ip_list("  ") is None


def test_a_bad_entry_is_named_in_chinese() -> None:
    with pytest.raises(IpListError, match="“10.0.0.300” 不是有效的 IP 地址或网段"):
        parse_ip_list("10.0.0.1, 10.0.0.300")


@pytest.mark.parametrize(
    ("address", "inside"),
    [("10.20.30.40", True), ("11.0.0.1", False), ("2001:db8::1", True), ("2001:db9::1", False),
     ("::ffff:10.0.0.5", True), ("not-an-ip", False), (None, False)],
)
def test_contains(address: str | None, inside: bool) -> None:
    assert contains(parse_ip_list("10.0.0.0/8, 2001:db8::/32"), address) is inside


def test_user_list_and_role_lists_both_apply() -> None:
    office, vpn = "192.168.1.0/24", "10.8.0.0/16"
    assert decide("8.8.8.8", None, [None, ""]).allowed  # nothing configured: no restriction
    assert decide("10.8.1.1", None, [office, vpn]).allowed  # any restricted role's list will do
    refused = decide("8.8.8.8", None, [office, None])
    assert (refused.allowed, refused.refused_by) == (False, "role")
    own = decide("192.168.1.7", "192.168.1.5", [office])
    assert (own.allowed, own.refused_by) == (False, "user")  # the user's own list narrows the role's
    assert decide("192.168.1.5", "192.168.1.5", [office]).allowed


def test_a_corrupt_stored_list_refuses() -> None:
    assert not decide("127.0.0.1", "not a network", []).allowed
