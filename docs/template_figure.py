"""Draws docs/template.png: where every crop puts the face (template points) and its mask.

    .venv/bin/python docs/template_figure.py
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from combtf.faces.masks import face_mask, outline
from combtf.faces.template import template

SIZE = 256
points = template(SIZE)
mask = face_mask(points, (SIZE, SIZE))
canvas = Image.fromarray(np.stack([mask // 3 + 40] * 3, axis=-1))
draw = ImageDraw.Draw(canvas)
draw.line([tuple(p) for p in np.vstack([outline(points), outline(points)[:1]])], fill=(255, 200, 0), width=1)
for x, y in points:
    draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(0, 200, 255))
side = Image.fromarray(mask).convert("RGB")
figure = Image.new("RGB", (2 * SIZE + 8, SIZE), (255, 255, 255))
figure.paste(canvas, (0, 0))
figure.paste(side, (SIZE + 8, 0))
figure.save(Path(__file__).with_name("template.png"))
