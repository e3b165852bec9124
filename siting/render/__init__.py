"""HTML and SVG for people: the interactive map (``maps``) and the plan in words
(``report``), with Leaflet inlined from ``static/`` so a map works offline.
"""
