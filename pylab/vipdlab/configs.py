"""The lab's addresses and the configuration builders, so tests, the bench and the demo write the
same keepalived and vipd configurations."""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from vipdlab.netns import Node

VIP = "198.18.0.100"
VIP_CIDR = "198.18.0.100/24"
LAB_NET = ipaddress.ip_network("198.18.0.0/15")
# IPv6 in the lab: the documentation prefix only (LAB.md); adverts go from the link-locals
LAB_NET6 = ipaddress.ip_network("2001:db8::/32")
VIP6 = "2001:db8::100"
VIP6_CIDR = "2001:db8::100/64"
ADDR6 = {"a": "2001:db8::11/64", "b": "2001:db8::12/64", "c": "2001:db8::50/64"}


def url_host(addr: str) -> str:
    """``addr`` as the host part of a URL: IPv6 in brackets."""
    return f"[{addr}]" if ":" in addr else addr


def keepalived_config(node: Node, priority: int, vrid: int = 51, advert: float = 0.1,
                      vips: Iterable[str] = (VIP_CIDR,), version: int = 3,
                      preempt: bool = True, unicast_peers: Iterable[str] = (),
                      extra_instance: str = "", extra_global: str = "",
                      scripts: str = "") -> str:
    """A keepalived.conf for ``node``. ``scripts`` (vrrp_script blocks) goes before the instance,
    which may reference them with ``extra_instance="track_script { NAME }"``."""
    vip_lines = "\n".join(f"        {v} dev {node.iface}" for v in vips)
    peers = list(unicast_peers)
    unicast = ""
    if peers:
        unicast = (f"    unicast_src_ip {node.addr}\n    unicast_peer {{\n" +
                   "".join(f"        {p}\n" for p in peers) + "    }\n")
    return f"""\
global_defs {{
    router_id {node.label}
    vrrp_version {version}
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 5
    vrrp_garp_interval 0.001
    script_user root
    enable_script_security
{extra_global}}}
{scripts}
vrrp_instance VI_{vrid} {{
    state BACKUP
    interface {node.iface}
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert:g}
    {'' if preempt else 'nopreempt'}
{unicast}    virtual_ipaddress {{
{vip_lines}
    }}
{extra_instance}}}
"""


def vipd_config(node: Node, priority: int, vrid: int = 51, advert: str = "100ms",
                vips: Iterable[str] = (VIP_CIDR,), version: int = 3, preempt: bool = True,
                unicast_peers: Iterable[str] = (), checksum: str | None = "rfc9568",
                api_listen: str = "", group_size: int = 0, extra_instance: str = "",
                extra: str = "", extra_agent: str = "") -> str:
    """A vipd TOML config (DESIGN.md §3). ``extra_agent`` and ``extra_instance`` are lines added
    to [agent] and [[instance]]; ``extra`` is appended (e.g. [[check]] tables)."""
    def toml_list(xs):
        return "[" + ", ".join(json.dumps(x) for x in xs) + "]"
    return f"""\
[agent]
node_name = "{node.label}"
api_listen = "{api_listen}"
log_level = "info"
{extra_agent}
[[instance]]
name = "web"
interface = "{node.iface}"
vrid = {vrid}
priority = {priority}
version = {version}
advert_interval = "{advert}"
preempt = {str(preempt).lower()}
group_size = {group_size}
vips = {toml_list(vips)}
unicast_peers = {toml_list(unicast_peers)}
{f'checksum = "{checksum}"' if checksum is not None else "# checksum: the default"}
{extra_instance}
{extra}"""
