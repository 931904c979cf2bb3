"""SLA timers: started with the incident, stopped by its transitions, paused on hold,
re-targeted when the priority changes. Called by incidents/services.py inside its
transactions; the clock (incidents/clock.py) fires their deadlines.

(Interface stubs: implemented in the SLA work of issue 3.)
"""


def timers_start(*, incident) -> None:
    """Create the incident's timers from its policy and priority."""


def timers_on_transition(*, incident, transition: str) -> None:
    """Stop, pause or resume timers after `transition` ran on `incident` (saved, locked)."""


def timers_retarget(*, incident) -> None:
    """Re-compute targets for the incident's new priority, from the original start."""


def timers_on_public_update(*, incident) -> None:
    """A public update was given: the stakeholder-update cadence timer starts again."""
