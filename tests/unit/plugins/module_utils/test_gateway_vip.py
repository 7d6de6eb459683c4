# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived's plan for a gateway pair: the interface, the prefix and the peers, and each refusal in words that name
the variable and the fix."""

from __future__ import annotations

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils.gateway_vip import vrrp_plan

PEERS = [{"host": "gw1", "address": "10.0.0.21", "vip": "10.0.0.20"},
         {"host": "gw2", "address": "10.0.0.22", "vip": "10.0.0.20"}]
INTERFACES = [{"device": "lo", "address": "127.0.0.1", "netmask": "255.0.0.0"},
              {"device": "ens3", "address": "10.0.0.21", "netmask": "255.255.255.0"}]


def settings(**changes):
    base = {"vip": "10.0.0.20", "router_id": 51, "priority": 150, "host": "gw1", "address": "10.0.0.21",
            "interface": "", "group": "gateway_hosts", "peers": PEERS,
            "pairs": [{"host": "gw1", "vip": "10.0.0.20", "router_id": 51},
                      {"host": "gw2", "vip": "10.0.0.20", "router_id": 51}],
            "interfaces": INTERFACES}
    base.update(changes)
    return base


def test_a_pair_gets_the_interface_the_prefix_and_the_other_gateway():
    plan = vrrp_plan(settings())
    assert plan == {"errors": [], "interface": "ens3", "prefix": 24, "network": "10.0.0.0/24",
                    "unicast_peers": ["10.0.0.22"]}


def test_the_address_already_held_as_a_secondary_changes_nothing():
    held = INTERFACES + [{"device": "ens3", "address": "10.0.0.20", "netmask": "255.255.255.0"}]
    assert vrrp_plan(settings(interfaces=held))["errors"] == []


@pytest.mark.parametrize("changes, expected", [
    ({"vip": "10.0.0.300"}, "gateway_vip '10.0.0.300' is not an IPv4 address"),
    ({"vip": "fd00::20"}, "gateway_vip 'fd00::20' is not an IPv4 address"),
    ({"vip": "10.1.0.20", "peers": [dict(p, vip="10.1.0.20") for p in PEERS]},
     "gateway_vip 10.1.0.20 is outside 10.0.0.0/24, the network of ens3 (gateway_vrrp_address 10.0.0.21) on gw1"),
    ({"vip": "10.0.0.255", "peers": [dict(p, vip="10.0.0.255") for p in PEERS]},
     "is the network or broadcast address of 10.0.0.0/24"),
    ({"vip": "10.0.0.22", "peers": [dict(p, vip="10.0.0.22") for p in PEERS]},
     "gateway_vip 10.0.0.22 is the address of gw2 (gateway_vrrp_address)"),
    ({"peers": PEERS[:1]}, "gateway_vip is set, but gateway_vrrp_group (gateway_hosts) has only gw1: a virtual "
                           "address needs two gateways or more"),
    ({"peers": [PEERS[0], dict(PEERS[1], vip="")]}, "but gw2 of gateway_vrrp_group (gateway_hosts) have another"),
    ({"address": "10.0.0.99"}, "gateway_vrrp_address 10.0.0.99 is not an address of gw1 (it has 127.0.0.1 (lo), "
                               "10.0.0.21 (ens3))"),
    ({"peers": [PEERS[0], dict(PEERS[1], address="gw2.example.internal")]},
     "gateway_vrrp_address of gw2 is not an IPv4 address"),
    ({"interface": "eth9"}, "gateway_vip_interface eth9 on gw1 does not hold gateway_vrrp_address 10.0.0.21"),
    ({"router_id": 256}, "gateway_vrrp_router_id 256 must be a whole number from 1 to 255"),
    ({"priority": 255}, "gateway_vrrp_priority 255 on gw1 must be a whole number from 1 to 254"),
    ({"pairs": [{"host": "gw1", "vip": "10.0.0.20", "router_id": 51},
                {"host": "gw3", "vip": "10.0.0.40", "router_id": 51},
                {"host": "gw4", "vip": "10.0.0.40", "router_id": "51"}]},
     "gateway_vrrp_router_id 51 is used by two pairs: gateway_hosts (gateway_vip 10.0.0.20) and gw3, gw4 "
     "(gateway_vip 10.0.0.40)"),
])
def test_what_cannot_work_is_refused_with_the_variable_and_the_fix(changes, expected):
    errors = vrrp_plan(settings(**changes))["errors"]
    assert any(expected in error for error in errors), errors


def test_another_pair_with_its_own_router_id_is_no_clash():
    pairs = [{"host": "gw3", "vip": "10.0.0.40", "router_id": 52}]
    assert vrrp_plan(settings(pairs=pairs))["errors"] == []
