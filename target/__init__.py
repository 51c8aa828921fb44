"""The reference pipeline Seam tests: an order/payment saga that can really fail.

Standard library only: this package is copied to each node and run there as
``python3 -m target.node --config node.json``. See target/README.md.
"""

from target import clockshim as _clockshim

_clockshim.install()
