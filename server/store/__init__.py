"""PostGIS storage: schema, migrations, codecs, queries and the batched writer.

The only package with SQL in it.
"""

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What store functions take: a plain connection or one borrowed from the pool.
Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
