"""The core of Seam: ops, histories, errors, verdicts and the extension points.

Imports nothing else from Seam, so every other package may import it.
"""
