"""ORM models; importing this package registers every table on `shared.db.Base.metadata`.

Each domain adds its own module here and one import line below.
"""

from shared.models import analytics  # noqa: F401
from shared.models import audit  # noqa: F401
from shared.models import cache  # noqa: F401
from shared.models import files  # noqa: F401
