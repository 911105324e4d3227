"""ORM models; importing this package registers every table on `shared.db.Base.metadata`.

Each domain adds its own module here and one import line below.
"""

from shared.models import (
    analytics,  # noqa: F401
    audit,  # noqa: F401
    cache,  # noqa: F401
    files,  # noqa: F401
)
