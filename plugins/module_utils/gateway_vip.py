# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A virtual address shared by a pair (or more) of gateways: keepalived's VRRP plan for one host, and what cannot work.

Pure Python (stdlib only); plugins/filter/gateway.py exposes it to the gateway role as the filter gateway_vrrp.

``settings`` is a dict:

  key            meaning
  vip            the virtual IPv4 address (gateway_vip)
  router_id      this group's virtual router id, 1-255 (gateway_vrrp_router_id)
  priority       this host's priority, 1-254 (gateway_vrrp_priority)
  host           this host's inventory name
  address        this host's own address for VRRP adverts (gateway_vrrp_address)
  interface      the interface to hold the address on; empty: the one that holds ``address``
  group          the group's name (gateway_vrrp_group), for messages
  peers          every host of the group, this one included: [{host, address, vip}]
  pairs          every host of the inventory with a virtual address: [{host, vip, router_id}]
  interfaces     this host's IPv4 addresses, from its facts: [{device, address, netmask}]

The plan: {errors, interface, prefix, network, unicast_peers}. Errors name the variable and the fix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any


def _ipv4(value: Any) -> ipaddress.IPv4Address | None:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
    return address if isinstance(address, ipaddress.IPv4Address) else None


def _whole(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if low <= number <= high else None


def vrrp_plan(settings: Mapping[str, Any]) -> dict[str, Any]:
    """keepalived's settings for this host, with every reason it cannot work (empty when it can)."""
    errors: list[str] = []
    host = str(settings.get("host", ""))
    group = str(settings.get("group", "gateway_hosts"))
    plan: dict[str, Any] = {"errors": errors, "interface": "", "prefix": None, "network": "", "unicast_peers": []}

    vip = _ipv4(settings.get("vip"))
    if vip is None:
        errors.append(f"gateway_vip {settings.get('vip')!r} is not an IPv4 address: give the virtual address the "
                      "applications reach, one that no host has (such as 10.0.0.20).")
    router_id = _whole(settings.get("router_id"), 1, 255)
    if router_id is None:
        errors.append(f"gateway_vrrp_router_id {settings.get('router_id')!r} must be a whole number from 1 to 255, "
                      "one per pair on a network.")
    if _whole(settings.get("priority"), 1, 254) is None:
        errors.append(f"gateway_vrrp_priority {settings.get('priority')!r} on {host} must be a whole number from 1 "
                      "to 254 (the highest takes the address first).")

    peers = [dict(peer) for peer in settings.get("peers") or []]
    if len(peers) < 2:
        errors.append(f"gateway_vip is set, but gateway_vrrp_group ({group}) has only "
                      f"{', '.join(str(p.get('host')) for p in peers) or 'no host'}: a virtual address needs two "
                      "gateways or more to move between. Add the peer to the group, or leave gateway_vip empty.")
    disagree = sorted(str(p.get("host")) for p in peers if _ipv4(p.get("vip")) != vip)
    if vip is not None and disagree:
        errors.append(f"gateway_vip {vip} on {host}, but {', '.join(disagree)} of gateway_vrrp_group ({group}) "
                      "have another: every gateway of a pair shares one virtual address; set it once, in the "
                      "group's variables.")
    bad_peers = sorted(str(p.get("host")) for p in peers if _ipv4(p.get("address")) is None)
    if bad_peers:
        errors.append(f"gateway_vrrp_address of {', '.join(bad_peers)} is not an IPv4 address: each gateway "
                      "sends its VRRP adverts from its own address on the network of the virtual address "
                      "(its ansible_host, or set gateway_vrrp_address).")
    own = _ipv4(settings.get("address"))
    if vip is not None:
        for peer in peers:
            if _ipv4(peer.get("address")) == vip:
                errors.append(f"gateway_vip {vip} is the address of {peer.get('host')} (gateway_vrrp_address): the "
                              "virtual address must be one that no host has.")

    # The interface that holds this host's own address, and its network: the virtual address must be in it.
    interfaces = [dict(i) for i in settings.get("interfaces") or [] if _ipv4(i.get("address"))]
    wanted = str(settings.get("interface") or "")
    mine = [i for i in interfaces if _ipv4(i.get("address")) == own] if own else []
    if own is not None and not mine:
        held = ", ".join(f"{i.get('address')} ({i.get('device')})" for i in interfaces) or "none"
        errors.append(f"gateway_vrrp_address {own} is not an address of {host} (it has {held}): set "
                      "gateway_vrrp_address to this host's address on the network of the virtual address.")
    elif mine:
        chosen = mine[0]
        if wanted and wanted != chosen.get("device"):
            errors.append(f"gateway_vip_interface {wanted} on {host} does not hold gateway_vrrp_address {own} "
                          f"({chosen.get('device')} does): leave gateway_vip_interface empty, or name that "
                          "interface.")
        try:
            network = ipaddress.IPv4Network(f"{chosen['address']}/{chosen.get('netmask')}", strict=False)
        except (ValueError, KeyError):
            network = None
        if network is not None:
            plan.update(interface=str(chosen.get("device")), prefix=network.prefixlen, network=str(network))
            if vip is not None and vip not in network:
                errors.append(f"gateway_vip {vip} is outside {network}, the network of {chosen.get('device')} "
                              f"(gateway_vrrp_address {own}) on {host}: VRRP moves an address within one "
                              f"network, so pick the virtual address in {network}.")
            elif vip is not None and vip in (network.network_address, network.broadcast_address):
                errors.append(f"gateway_vip {vip} is the network or broadcast address of {network}: pick a host "
                              "address in it.")
    plan["unicast_peers"] = [str(p.get("address")) for p in peers
                             if p.get("host") != host and _ipv4(p.get("address")) is not None]

    # Another pair (another virtual address) with the same router id would fight over the same VRRP group.
    if vip is not None and router_id is not None:
        clash: dict[str, list[str]] = {}
        for other in settings.get("pairs") or []:
            other_vip = _ipv4(other.get("vip"))
            if other_vip is not None and other_vip != vip and _whole(other.get("router_id"), 1, 255) == router_id:
                clash.setdefault(str(other_vip), []).append(str(other.get("host")))
        for clashing_vip, hosts in sorted(clash.items()):
            errors.append(f"gateway_vrrp_router_id {router_id} is used by two pairs: {group} (gateway_vip {vip}) "
                          f"and {', '.join(sorted(hosts))} (gateway_vip {clashing_vip}). Give each pair its own id "
                          "(1-255) where they share a network.")
    return plan
