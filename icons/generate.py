#!/usr/bin/env python3
"""Generate the Jingwu app icons (a blue police shield with a gold rim and a
white star) as RGBA PNGs, plus icon.ico and icon.icns for Windows / macOS.

Pure standard library (zlib + struct), so it runs anywhere without Pillow or
ImageMagick. Re-run from any directory:  python3 icons/generate.py
Output is deterministic: the same script always writes the same bytes.
"""

import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

BLUE = (26, 58, 138)  # 警务蓝
BLUE_LIGHT = (44, 92, 196)
GOLD = (212, 160, 23)
WHITE = (255, 255, 255)

# Shield outline in unit coordinates (0..1, y down).
LEFT, RIGHT = 0.14, 0.86
TOP = 0.07
SHOULDER = 0.52  # where the straight sides start curving to the point
BOTTOM = 0.95
RIM = 0.045


def shield_half_width(y, inset=0.0):
    """Half-width of the shield at height y (0 outside), shrunk by `inset`."""
    top = TOP + inset
    bottom = BOTTOM - inset * 1.6
    if y < top or y > bottom:
        return 0.0
    half = (RIGHT - LEFT) / 2 - inset
    # A shallow dip in the middle of the top edge is handled in inside_shield.
    if y <= SHOULDER:
        return half
    t = (y - SHOULDER) / (bottom - SHOULDER)
    return half * math.cos(t * math.pi / 2) ** 0.8


def inside_shield(x, y, inset=0.0):
    half = shield_half_width(y, inset)
    if half <= 0.0:
        return False
    dx = x - 0.5
    if abs(dx) > half:
        return False
    # Top edge: higher at the corners, dipping towards the middle.
    edge = TOP + inset + 0.05 * (1 - (dx / ((RIGHT - LEFT) / 2)) ** 2)
    return y >= edge


def star_polygon(cx, cy, r_outer, r_inner):
    points = []
    for i in range(10):
        r = r_outer if i % 2 == 0 else r_inner
        a = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


STAR = star_polygon(0.5, 0.49, 0.23, 0.095)


def inside_polygon(x, y, poly):
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def sample(x, y):
    """Colour (r, g, b, a) of the design at unit point (x, y)."""
    if not inside_shield(x, y):
        return (0, 0, 0, 0)
    if not inside_shield(x, y, RIM):
        return GOLD + (255,)
    if inside_polygon(x, y, STAR):
        return WHITE + (255,)
    # Slight vertical gradient on the blue field.
    t = min(1.0, max(0.0, (y - TOP) / (BOTTOM - TOP)))
    colour = tuple(round(a + (b - a) * t) for a, b in zip(BLUE_LIGHT, BLUE))
    return colour + (255,)


def render(size):
    """RGBA rows for a size x size icon, supersampled for anti-aliasing."""
    ss = 4 if size <= 128 else 3
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            r = g = b = a = 0
            for sy in range(ss):
                for sx in range(ss):
                    x = (px + (sx + 0.5) / ss) / size
                    y = (py + (sy + 0.5) / ss) / size
                    cr, cg, cb, ca = sample(x, y)
                    r += cr * ca
                    g += cg * ca
                    b += cb * ca
                    a += ca
            n = ss * ss
            if a == 0:
                row += bytes(4)
            else:
                # Colours are alpha-weighted, then un-premultiplied.
                row += bytes((round(r / a), round(g / a), round(b / a), round(a / n)))
        rows.append(bytes(row))
    return rows


def png_bytes(rows):
    size = len(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per row
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def ico_bytes(pngs):
    """ICO holding PNG images (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries = b""
    data = b""
    for size, png in pngs:
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(data))
        data += png
    return header + entries + data


def icns_bytes(pngs):
    """ICNS holding PNG images: ic07=128, ic08=256, ic09=512, ic10=1024(@2x 512)."""
    kinds = {128: b"ic07", 256: b"ic08", 512: b"ic09"}
    body = b""
    for size, png in pngs:
        kind = kinds.get(size)
        if kind:
            body += kind + struct.pack(">I", 8 + len(png)) + png
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write(name, data):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote {path} ({len(data)} bytes)")


def main():
    sizes = [16, 32, 48, 128, 256, 512]
    pngs = {size: png_bytes(render(size)) for size in sizes}
    write("32x32.png", pngs[32])
    write("128x128.png", pngs[128])
    write("128x128@2x.png", pngs[256])
    write("icon.png", pngs[512])
    write("icon.ico", ico_bytes([(s, pngs[s]) for s in (16, 32, 48, 256)]))
    write("icon.icns", icns_bytes([(s, pngs[s]) for s in (128, 256, 512)]))
    # The start-up page shows the badge too; ui/ is served as-is.
    ui_icon = os.path.join(HERE, os.pardir, "ui", "icon.png")
    with open(ui_icon, "wb") as f:
        f.write(pngs[128])
    print(f"wrote {os.path.normpath(ui_icon)} ({len(pngs[128])} bytes)")


if __name__ == "__main__":
    main()
