"""Server-rendered SVG charts: no JavaScript, no inline CSS (the CSP forbids both), only attributes."""

from markupsafe import Markup, escape

BAR = "#0b5cad"
HIGHLIGHT = "#b00020"
AXIS = "#888"


def text_width(text, size=11):
    """Rough width in px of a label at the charts' font size: a Chinese character is square, Latin is ~0.6 em."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.62 for ch in str(text))


def _num(value):
    return f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def bars(items, title, width=640, height=200, label_every=1, highlight=()):
    """Vertical bars for (label, value) pairs; labels shown every label_every bars."""
    items = list(items)
    top = max([v for _, v in items] + [0]) or 1
    # The axis column fits the largest number (a 5-digit count would start left of the picture).
    pad_l, pad_b, pad_t = int(max(34, text_width(_num(top)) + 10)), 28, 18
    inner_w, inner_h = width - pad_l - 6, height - pad_b - pad_t
    step = inner_w / max(len(items), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - 6}" y2="{pad_t + inner_h}" stroke="{AXIS}"/>',
        f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end">{_num(top)}</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + inner_h}" text-anchor="end">0</text>',
    ]
    for i, (label, value) in enumerate(items):
        h = inner_h * (value or 0) / top
        x = pad_l + i * step + step * 0.1
        fill = HIGHLIGHT if label in highlight else BAR
        parts.append(
            f'<rect x="{x:.1f}" y="{pad_t + inner_h - h:.1f}" width="{max(step * 0.8, 1):.1f}" height="{h:.1f}" fill="{fill}">'
            f"<title>{escape(label)}: {_num(value or 0)}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(f'<text x="{x + step * 0.4:.1f}" y="{height - 10}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every label and title went through escape())


def hbars(items, title, width=640, bar_h=20):
    """Horizontal bars for (label, value) pairs, largest first (denials by reason)."""
    items = list(items)
    # The label column fits the longest label (no reason cut off), up to half the chart.
    label_w = int(min(max([130] + [text_width(label) + 12 for label, _ in items]), width // 2))
    height = max(len(items), 1) * (bar_h + 6) + 10
    top = max([v for _, v in items] + [0]) or 1
    inner_w = width - label_w - 50
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * (bar_h + 6)
        w = inner_w * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" fill="{HIGHLIGHT}"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h * 0.7:.1f}">{_num(value)}</text>')
    if not items:
        parts.append(f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every label and title went through escape())


def gauge(rate, target, title, width=320, height=36):
    """A horizontal bar for a rate with a mark at the target."""
    filled = (rate or 0) * (width - 4)
    mark = target * (width - 4) + 2
    fill = BAR if rate is not None and rate >= target else HIGHLIGHT
    return Markup(  # noqa: S704 (numbers and an escaped title only)
        f'<svg class="chart gauge" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<rect x="2" y="8" width="{width - 4}" height="16" fill="#eee"/>'
        f'<rect x="2" y="8" width="{filled:.1f}" height="16" fill="{fill}"/>'
        f'<line x1="{mark:.1f}" y1="2" x2="{mark:.1f}" y2="30" stroke="#111" stroke-width="2"/></svg>'
    )
