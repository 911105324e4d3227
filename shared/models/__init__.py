"""ORM models; importing this package registers every table on `shared.db.Base.metadata`.

Each domain adds its own module here and one import line below.
"""
