"""Escalation: each incident's ladder of timed pages, started when it is created and stopped
at acknowledgement. Called by incidents/services.py inside its transactions; the clock
(incidents/clock.py) fires the due steps.

(Interface stubs: implemented in the escalation work of issue 3.)
"""


def escalation_start(*, incident) -> None:
    """Create the incident's escalation steps from its policy and priority."""


def escalation_on_transition(*, incident, transition: str) -> None:
    """Cancel pending steps once the incident is acknowledged (or cancelled)."""


def escalation_retarget(*, incident) -> None:
    """Add or cancel steps whose level's priority filter the new priority changes."""
