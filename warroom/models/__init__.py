"""The war room's models, one module per aggregate."""

from warroom.models.cadence import *  # noqa: F403
from warroom.models.communications import *  # noqa: F403
from warroom.models.major_incidents import *  # noqa: F403
from warroom.models.status import *  # noqa: F403
from warroom.models.subscribers import *  # noqa: F403
