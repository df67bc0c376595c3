"""vipdlab: the network-namespace lab of vipd's integration tests, bench and tools (LAB.md).

Modules: ``netns`` (the ``Lab`` and its ``Node``s, teardown), ``processes`` (``Proc``, ``Capture``,
``skip``/``wait_for``/``run_main``), ``nginx``, ``sampling`` (the client ``Poller`` and ``Sample``
streams), ``configs`` (the lab's addresses, keepalived and vipd configurations), ``vipd`` (a vipd
under test: /status, metrics, transitions, the VIP watcher), ``obs`` (the observability pair and
Prometheus), ``bench`` (the failover benchmark), ``route`` and ``routed`` (route mode: its vipd
configuration and the routed L3 lab — FRR router, two nodes with a pluggable routing engine, client),
``exabgpengine`` (ExaBGP's healthcheck as a routed-lab engine), ``openloop`` (an open-loop client),
``hostile`` (the hostile-packet tests' scapy sender and drop checks). The common names are re-exported here::

    from vipdlab import Lab, VIP, require_root_or_skip, vipd_config, wait_for

Put ``pylab`` on ``PYTHONPATH`` (ctest does); ``python3 -m vipdlab --teardown`` removes kept or
stale labs.
"""

from vipdlab.configs import (ADDR6, LAB_NET, LAB_NET6, VIP, VIP6, VIP6_CIDR, VIP_CIDR,
                             keepalived_config, url_host, vipd_config)
from vipdlab.netns import DEFAULT_NODES, STATE_DIR, Lab, Node, teardown
from vipdlab.nginx import Nginx, nginx_conf
from vipdlab.processes import (KEEPALIVED, NGINX, SKIP, Capture, Proc, log, require_root_or_skip,
                               require_vipd_or_skip, run_main, skip, vipd_bin, wait_for)
from vipdlab.sampling import Poller, Sample, SampleStream

__all__ = [
    "ADDR6", "LAB_NET", "LAB_NET6", "VIP", "VIP6", "VIP6_CIDR", "VIP_CIDR", "keepalived_config",
    "url_host", "vipd_config",
    "DEFAULT_NODES", "STATE_DIR", "Lab", "Node", "teardown",
    "Nginx", "nginx_conf",
    "KEEPALIVED", "NGINX", "SKIP", "Capture", "Proc", "log", "require_root_or_skip",
    "require_vipd_or_skip", "run_main", "skip", "vipd_bin", "wait_for",
    "Poller", "Sample", "SampleStream",
]
