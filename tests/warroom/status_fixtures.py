"""Helpers of the status page's tests: components and public updates made through the
services, as the product makes them."""

from incidents.choices import ChangeSource
from warroom.status import services
from warroom.status.services import ComponentState

CLI = ChangeSource.CLI


def make_component(manager, name, *, group=None, service=None, public=True, position=0):
    return services.component_create(
        actor=manager,
        source=CLI,
        name=name,
        group_name=group,
        service=service,
        public=public,
        position=position,
    )


def post(incident, actor, status, body, components=(), **kwargs):
    """Post a status update; `components` as (component, state) pairs."""
    states = [ComponentState(component, state) for component, state in components]
    return services.status_update_post(
        incident=incident,
        actor=actor,
        source=CLI,
        status=status,
        body=body,
        components=states,
        **kwargs,
    )
