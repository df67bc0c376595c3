"""The failover benchmark (bench/failover.py, bench/README.md): ``common`` (settings, output),
``cases`` (the lab per speaker and interval, each case's action and measurement), ``wire``
(capture analysis), ``hoststats`` (CPU, RSS, scheduling; idle cost and timer jitter), ``scale``,
``report`` (the tables), ``probe`` (the 1 ms probe and the exit watcher), ``cli``."""
