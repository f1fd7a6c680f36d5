"""Public Hypothesis strategies for users' own tests of broadcast systems.

Database-side strategies (rows, statements, transaction histories) and
client-side strategies (ids, user ids, client operation sequences).
"""

from bcastsim.strategies import _client, _db
from bcastsim.strategies._client import *  # noqa: F403
from bcastsim.strategies._db import *  # noqa: F403

__all__: list[str] = [*_db.__all__, *_client.__all__]  # noqa: PLE0604
