"""The reference pipeline's own checkers: they read what target/ writes on its nodes.

``effects`` (lost and duplicated effects, conservation), ``fencing`` (stale
fenced writes), ``causal`` (step-log order), ``quorum`` (quorum overlap from
the replication each node reports), ``signals`` (the seed's seam signals from
the nodes' metrics) and ``artifacts`` (reading the collected node files). The
generic checkers (``linearizable``, ``stale_read``, ``txn``, ``perf``,
``compose``) sit one level up and know no target.
"""
