"""The post-incident review's models, one module per aggregate."""

from postmortems.models.action_items import *  # noqa: F403
from postmortems.models.credits import *  # noqa: F403
from postmortems.models.followups import *  # noqa: F403
from postmortems.models.meeting import *  # noqa: F403
from postmortems.models.metrics import *  # noqa: F403
from postmortems.models.review import *  # noqa: F403
