"""Trend charts as server-rendered SVG: the geometry is computed here, the template draws it
with classes only (no inline style, no script, no chart library)."""

from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 320, 120, 8


@dataclass
class Chart:
    metric: str
    label: str
    unit: str
    points: str  # the polyline's "x,y x,y …"
    dots: list[tuple[float, float, str]]  # x, y, title
    target_y: float | None
    top: float
    first: str
    last: str
    width: int = WIDTH
    height: int = HEIGHT


def trend_chart(metric, groups, label_of, format_value) -> Chart:
    """`metric`'s value in each group, scaled to the chart (its target, when set, drawn as a
    line); groups with no value are skipped."""
    values = [(label_of(g.key), g.figures[metric.key]) for g in groups]
    values = [(label, figure) for label, figure in values if figure.value is not None]
    target = next((f.target for _, f in values if f.target is not None), None)
    top = max([f.value for _, f in values] + [target or 0, 1]) * 1.1
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD), 1)

    dots = [
        (round(PAD + i * step, 1), y(f.value), f"{label}: {format_value(f)}")
        for i, (label, f) in enumerate(values)
    ]
    return Chart(
        metric=metric.key,
        label=metric.label,
        unit=metric.unit,
        points=" ".join(f"{x},{yy}" for x, yy, _ in dots),
        dots=dots,
        target_y=None if target is None else y(target),
        top=top,
        first=values[0][0] if values else "",
        last=values[-1][0] if values else "",
    )
