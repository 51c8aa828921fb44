"""``python3 -m target --config node.json`` is the same as ``python3 -m target.node``."""

import sys

from target.node import main

sys.exit(main())
