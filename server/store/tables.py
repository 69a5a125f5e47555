"""Every table, registered on one `metadata`: the migrations (env.py) and the test that
compares a migrated database against the declarations import it from here. A new schema
module is added to this list.
"""

from server.store import (
    schema_bottlenecks,  # noqa: F401 (registers its tables)
    schema_delivery,  # noqa: F401 (registers its tables)
    schema_insights,  # noqa: F401 (registers its tables)
    schema_roads,  # noqa: F401 (registers its tables)
)
from server.store.schema import metadata

__all__ = ["metadata"]
