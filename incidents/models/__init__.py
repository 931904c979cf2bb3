"""The incident core's models, one module per aggregate."""

from incidents.models.alerts import *  # noqa: F403
from incidents.models.clock import *  # noqa: F403
from incidents.models.core import *  # noqa: F403
from incidents.models.oncall import *  # noqa: F403
from incidents.models.responders import *  # noqa: F403
from incidents.models.sla import *  # noqa: F403
