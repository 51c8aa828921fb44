"""Rendering of checker results: text, HTML and images.

Renderers read only result data (``CheckResult`` details, as stored in
``results.json``); checkers never import this package, so a stored run can
be rendered again without re-checking it.
"""
