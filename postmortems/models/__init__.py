"""The post-incident review's models, one module per aggregate."""

from postmortems.models.review import *  # noqa: F403
