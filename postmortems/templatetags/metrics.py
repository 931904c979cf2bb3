"""How the reports page writes a figure: durations in minutes or hours, amounts in the
reports' currency, rates in percent."""

from django import template
from django.conf import settings

register = template.Library()


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@register.filter("amount")
def amount_text(amount) -> str:
    """An amount in the reports' currency, to the unit: "USD 12,000"."""
    return f"{settings.REPORTS_CURRENCY} {amount:,.0f}"


UNIT_TEXT = {"seconds": duration_text, "currency": amount_text, "percent": lambda v: f"{v:g} %"}


def value_text(unit: str, value) -> str:
    """`value` in `unit` as a person reads it; "–" when there is none."""
    return "–" if value is None else UNIT_TEXT[unit](value)


@register.filter
def figure_text(figure) -> str:
    """The figure's value as a person reads it; "–" when nothing was measured."""
    return value_text(figure.unit, figure.value)


@register.filter
def measure_text(figure, name: str) -> str:
    """Another of the figure's values (`median`, `p90`, `total`) in its unit."""
    return value_text(figure.unit, getattr(figure, name))


@register.filter
def target_text(figure) -> str:
    if figure.target is None:
        return ""
    sign = "<" if figure.direction == "below" else ">"
    return f"target {sign} {value_text(figure.unit, figure.target)}"


@register.filter
def target_class(figure) -> str:
    """`meets` (green), `misses` (red), or nothing when there is no target or no figure."""
    if figure.meets_target is None:
        return ""
    return "meets" if figure.meets_target else "misses"
