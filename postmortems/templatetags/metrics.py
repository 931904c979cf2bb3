"""How the reports page writes a figure: durations in minutes or hours, rates in percent."""

from django import template

register = template.Library()


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@register.filter
def figure_text(figure) -> str:
    """The figure's value as a person reads it; "–" when nothing was measured."""
    if figure.value is None:
        return "–"
    if figure.unit == "seconds":
        return duration_text(figure.value)
    return f"{figure.value:g} %"


@register.filter
def target_text(figure) -> str:
    if figure.target is None:
        return ""
    sign = "<" if figure.direction == "below" else ">"
    value = duration_text(figure.target) if figure.unit == "seconds" else f"{figure.target:g} %"
    return f"target {sign} {value}"


@register.filter
def target_class(figure) -> str:
    """`meets` (green), `misses` (red), or nothing when there is no target or no figure."""
    if figure.meets_target is None:
        return ""
    return "meets" if figure.meets_target else "misses"


@register.filter
def seconds_text(seconds) -> str:
    return "–" if seconds is None else duration_text(seconds)
