"""Power grids in: MATPOWER and pandapower cases, GeoPackage grids, the grid model they are
read into, and attachments by CSV (upgrade options, emergency ratings, load growth).
"""
