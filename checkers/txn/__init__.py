"""Transactional consistency checking in the style of Elle (list-append, rw-register).

``TxnChecker(TxnOptions(...)).check(test, history, artifacts)`` follows Seam's
Checker protocol; ``analyze`` returns everything found, for tests and tools.
The pipeline and each step's reasoning are in ``checker.py``'s docstring.
"""

from checkers.txn.checker import TxnChecker, TxnOptions, analyze, verdict

__all__ = ["TxnChecker", "TxnOptions", "analyze", "verdict"]
