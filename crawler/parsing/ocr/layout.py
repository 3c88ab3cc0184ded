"""Table structure from a page image: deskew, binarise, ruling lines, cells and their spans.

The steps, all with OpenCV:

1. **deskew**: the angle (within ±3°) whose horizontal projection of the ink is sharpest, searched
   coarse then fine on a reduced page; the page is rotated back by it.
2. **binarise**: a median blur (speckles), then Otsu's threshold: ink is 255 in the mask.
3. **rulings**: a morphological opening with a long thin kernel keeps only the runs longer than any
   character stroke: horizontal and vertical lines.  Their connected components are the segments.
4. **tables**: the connected components of the rulings together; each one large enough is a table.
5. **cells**: the distinct line positions make a grid; where a ruling between two grid cells is
   missing, the cells are one (a row or column span), as the PDF extractor does with vector lines.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

MAX_SKEW = 3.0  # degrees
#: The rulings are grouped into tables on the page reduced this many times (see find_tables).
POOL = 4


@dataclass
class Segment:
    pos: float  # y of a horizontal line, x of a vertical one
    start: float
    end: float


@dataclass
class Box:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0


@dataclass
class GridBox:
    """A table found on the page: grid lines, and for every grid position the cell covering it."""
    box: Box
    xs: list[float]
    ys: list[float]
    root: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (i, j) -> top-left (i, j)
    extent: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # root -> (last i, last j)
    glyph_h: float | None = None  # height of the text's characters, measured on the page

    def cell_box(self, root: tuple[int, int]) -> Box:
        i1, j1 = self.extent[root]
        return Box(int(self.xs[root[1]]), int(self.ys[root[0]]), int(self.xs[j1 + 1]), int(self.ys[i1 + 1]))


def estimate_skew(grey: np.ndarray) -> float:
    """Angle in degrees (counter-clockwise positive, as PIL rotates) that the page content is turned by."""
    h, w = grey.shape
    scale = 1000.0 / max(h, w)
    small = cv2.resize(grey, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]
    ink = cv2.medianBlur(ink, 3)
    ys, xs = np.nonzero(ink)
    if len(xs) < 50:
        return 0.0
    cx, cy = small.shape[1] / 2, small.shape[0] / 2
    xs = xs.astype(np.float32) - cx
    ys = ys.astype(np.float32) - cy

    def sharpness(angle: float) -> float:
        t = np.deg2rad(angle)
        # the row each ink pixel falls on once the page is rotated by -angle
        rows = (ys * np.cos(t) + xs * np.sin(t)) + cy
        hist = np.bincount(np.clip(rows.astype(np.int32), 0, small.shape[0] * 2), minlength=1)
        return float((hist.astype(np.float64) ** 2).sum())

    best = max(np.arange(-MAX_SKEW, MAX_SKEW + 1e-6, 0.25), key=sharpness)
    fine = max(np.arange(best - 0.25, best + 0.25 + 1e-6, 0.05), key=sharpness)
    return float(round(fine, 2))


def rotate(grey: np.ndarray, angle: float) -> np.ndarray:
    """The page turned by ``-angle`` degrees (undoing a skew of ``angle``), white where it was not."""
    if abs(angle) < 0.05:
        return grey
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    return cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


def binarise(grey: np.ndarray) -> np.ndarray:
    """Ink mask (255 = ink).  The median drops speckles; Otsu picks the paper/ink threshold."""
    blurred = cv2.medianBlur(grey, 3)
    return cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]


def ruling_masks(ink: np.ndarray, dpi: int) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical line masks: runs longer than about 6 mm (no stroke of a 12 pt
    character is that long, the narrowest table cell is wider)."""
    length = max(15, int(dpi * 6 / 25.4))
    # a ruling broken by a speckle or JPEG blur still joins: close small gaps first
    h = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 1)))
    h = cv2.morphologyEx(h, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    v = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 5)))
    v = cv2.morphologyEx(v, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    return h, v


def glyph_height(ink: np.ndarray) -> float | None:
    """The height of the text's characters, from the ink itself (an image without a resolution, a
    table cropped out of a page: the dpi says nothing then).  The 70th percentile of the heights of
    glyph-sized components: Chinese characters fall into strokes, the tall ones give the height."""
    n, _l, stats, _c = cv2.connectedComponentsWithStats(ink, connectivity=8)
    hs = [int(h) for _x, _y, w, h, a in stats[1:] if 6 <= h <= 120 and w <= 2.5 * h and a >= 12]
    if len(hs) < 20:
        return None
    return float(np.percentile(hs, 70))


def _segments(mask: np.ndarray, horizontal: bool) -> list[Segment]:
    n, _labels, stats, _c = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h, _area = stats[k]
        if horizontal:
            if h > w:
                continue
            out.append(Segment(y + h / 2, float(x), float(x + w)))
        else:
            if w > h:
                continue
            out.append(Segment(x + w / 2, float(y), float(y + h)))
    return out


def _cluster(values: list[float], tol: float) -> list[float]:
    out: list[list[float]] = []
    for v in sorted(values):
        if out and v - out[-1][-1] <= tol:
            out[-1].append(v)
        else:
            out.append([v])
    return [sum(g) / len(g) for g in out]


def find_tables(ink: np.ndarray, dpi: int) -> list[GridBox]:
    """Every ruled table on the page, top to bottom."""
    hmask, vmask = ruling_masks(ink, dpi)
    both = cv2.bitwise_or(hmask, vmask)
    both = cv2.dilate(both, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    # the groups of rulings are found on the page reduced POOL times first (each reduced pixel the
    # maximum of its block: no ruling lost, a sixteenth of the pixels to label); only a group large
    # enough to hold a table is then labelled at full size, in its own box, and each of its
    # full-size components is a table as before (two tables a few pixels apart stay two)
    H, W = both.shape
    ph, pw = -(-H // POOL), -(-W // POOL)
    padded = both
    if (ph * POOL, pw * POOL) != (H, W):
        padded = np.zeros((ph * POOL, pw * POOL), np.uint8)
        padded[:H, :W] = both
    pooled = (cv2.resize(padded, (pw, ph), interpolation=cv2.INTER_AREA) > 0).view(np.uint8)
    n0, labels0, stats0, _c = cv2.connectedComponentsWithStats(pooled, connectivity=8)
    tol = max(4.0, dpi / 40)  # about 0.6 mm
    tables = []
    min_side = dpi * 0.6  # a table is at least 15 mm wide and high
    for k0 in range(1, n0):
        px, py, pw_, ph_, _a = stats0[k0]
        if pw_ * POOL < min_side or ph_ * POOL < dpi * 0.25:  # its full-size extent is smaller still
            continue
        x0, y0 = px * POOL, py * POOL
        crop = both[y0:y0 + ph_ * POOL, x0:x0 + pw_ * POOL]
        up = np.repeat(np.repeat(labels0[py:py + ph_, px:px + pw_] == k0, POOL, axis=0), POOL, axis=1)
        mine = np.where(up[:crop.shape[0], :crop.shape[1]], crop, 0).astype(np.uint8)
        n, labels, stats, _c = cv2.connectedComponentsWithStats(mine, connectivity=8)
        for k in range(1, n):
            x, y, w, h, _a = stats[k]
            if w < min_side or h < dpi * 0.25:
                continue
            region = labels[y:y + h, x:x + w] == k
            x, y = x + x0, y + y0
            g = _table_grid(hmask, vmask, region, x, y, w, h, tol)
            if g is not None:
                tables.append(g)
    tables.sort(key=lambda t: t.box.y0)
    return tables


def _table_grid(hmask, vmask, region, x, y, w, h, tol) -> GridBox | None:
    """The grid of one group of rulings: its segments (those of its own pixels) and their cells."""
    hs = [Segment(s.pos + y, s.start + x, s.end + x)
          for s in _segments((hmask[y:y + h, x:x + w] * region).astype(np.uint8), True)]
    vs = [Segment(s.pos + x, s.start + y, s.end + y)
          for s in _segments((vmask[y:y + h, x:x + w] * region).astype(np.uint8), False)]
    g = _grid(hs, vs, tol)
    if g is not None:
        g.box = Box(int(x), int(y), int(x + w), int(y + h))
    return g


def _grid(hs: list[Segment], vs: list[Segment], tol: float) -> GridBox | None:
    if len(hs) < 2 or len(vs) < 2:
        return None
    xs = _cluster([s.pos for s in vs], tol)
    ys = _cluster([s.pos for s in hs], tol)
    if len(xs) < 2 or len(ys) < 2:
        return None
    nr, nc = len(ys) - 1, len(xs) - 1
    slack = tol * 2.5

    def has_v(k: int, i: int) -> bool:
        x, a, b = xs[k], ys[i], ys[i + 1]
        mid = (a + b) / 2
        return any(abs(s.pos - x) <= tol * 1.5 and s.start <= mid - (b - a) * 0.25 + slack * 0
                   and s.end >= mid + (b - a) * 0.25 for s in vs)

    def has_h(k: int, j: int) -> bool:
        y, a, b = ys[k], xs[j], xs[j + 1]
        mid = (a + b) / 2
        return any(abs(s.pos - y) <= tol * 1.5 and s.start <= mid - (b - a) * 0.25
                   and s.end >= mid + (b - a) * 0.25 for s in hs)

    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(a):
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            # the top-left member names the cell
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            parent[hi] = lo

    for i in range(nr):
        for j in range(nc):
            find((i, j))
            if j + 1 < nc and not has_v(j + 1, i):
                union((i, j), (i, j + 1))
            if i + 1 < nr and not has_h(i + 1, j):
                union((i, j), (i + 1, j))
    g = GridBox(box=Box(0, 0, 0, 0), xs=xs, ys=ys)
    for i in range(nr):
        for j in range(nc):
            r = find((i, j))
            g.root[(i, j)] = r
            li, lj = g.extent.get(r, r)
            g.extent[r] = (max(li, i), max(lj, j))
    return g
