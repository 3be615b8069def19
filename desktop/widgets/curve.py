"""A minimal line chart for live curves (training loss, eval loss) drawn with QPainter."""

from __future__ import annotations

from desktop.qt import QColor, QPainter, QPen, QPointF, QWidget

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


class CurveWidget(QWidget):
    """Series of (x, y) points; each series its own colour; axes labelled with ranges."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.setMinimumHeight(180)

    def add_point(self, name: str, x: float, y: float) -> None:
        self.series.setdefault(name, []).append((x, y))
        self.update()

    def clear(self) -> None:
        self.series.clear()
        self.update()

    def points(self, name: str) -> list[tuple[float, float]]:
        return list(self.series.get(name, []))

    def paintEvent(self, _event: object) -> None:  # noqa: N802 - Qt name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        everything = [p for points in self.series.values() for p in points]
        margin_left, margin, width, height = 56, 20, self.width(), self.height()
        plot_w, plot_h = width - margin_left - margin, height - 2 * margin
        painter.setPen(QPen(QColor("#888")))
        painter.drawRect(margin_left, margin, plot_w, plot_h)
        if not everything or plot_w <= 0 or plot_h <= 0:
            painter.drawText(margin_left + 8, margin + 20, "waiting for the first points…")
            return
        xs = [p[0] for p in everything]
        ys = [p[1] for p in everything]
        x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
        y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

        def to_screen(x: float, y: float) -> QPointF:
            return QPointF(margin_left + (x - x0) / (x1 - x0) * plot_w,
                           margin + plot_h - (y - y0) / (y1 - y0) * plot_h)

        painter.drawText(4, margin + 10, f"{y1:.3g}")
        painter.drawText(4, margin + plot_h, f"{y0:.3g}")
        painter.drawText(margin_left, height - 4, f"{x0:.0f}")
        painter.drawText(margin_left + plot_w - 40, height - 4, f"{x1:.0f}")
        for index, (name, points) in enumerate(self.series.items()):
            pen = QPen(QColor(COLOURS[index % len(COLOURS)]))
            pen.setWidth(2)
            painter.setPen(pen)
            screen = [to_screen(x, y) for x, y in points]
            for a, b in zip(screen, screen[1:]):
                painter.drawLine(a, b)
            if len(screen) == 1 or name.startswith("eval"):
                for point in screen:
                    painter.drawEllipse(point, 3, 3)
            painter.drawText(margin_left + 8 + 110 * index, margin + 14, name)
