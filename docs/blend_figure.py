"""Draws docs/blends.png: one frame put together with each `--blend`, side by side.

    .venv/bin/python docs/blend_figure.py [--demo data/demo]

The project's real test footage may not be copied into the repository, so the frame is built
from the synthetic demo set: ben's evaluation frame, relit by a strong light from the left and
set into a larger background, receives ada's face from the same performance (the true swap,
unlit). What each blend keeps of the frame's light is what it keeps on real footage.
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from combtf.io.images import read_image, read_mask
from combtf.swap import blend

parser = argparse.ArgumentParser()
parser.add_argument("--demo", type=Path, default=Path("data/demo"))
parser.add_argument("--frame", default="eval_0007.png")
args = parser.parse_args()

face, _ = read_image(args.demo / "eval" / "ada" / args.frame)
target, _ = read_image(args.demo / "eval" / "ben" / args.frame)
mask = read_mask(args.demo / "eval" / "ben" / "masks" / args.frame)
size = face.shape[0]
height, width = int(size * 1.25), int(size * 1.75)
top, left = (height - size) // 2, (width - size) // 2


def place(image: np.ndarray, fill: int) -> np.ndarray:
    canvas = np.full((height, width, *image.shape[2:]), fill, np.uint8)
    canvas[top : top + size, left : left + size] = image
    return canvas


light = np.linspace(1.35, 0.35, width)[None, :, None]  # strong light from the left
frame = np.clip(place(target, 90).astype(np.float64) * light, 0, 255).astype(np.uint8)
soft = blend.prepare_mask(place(mask, 0), feather=4)
panels = [("frame", frame)] + [(how, blend.blend(place(face, 0), frame, soft, how)) for how in blend.BLENDS]
figure = Image.new("RGB", (len(panels) * (width + 6), height + 22), (255, 255, 255))
for i, (title, image) in enumerate(panels):
    figure.paste(Image.fromarray(image), (i * (width + 6), 22))
    ImageDraw.Draw(figure).text((i * (width + 6) + 4, 5), title, fill=(0, 0, 0))
figure.save(Path(__file__).with_name("blends.png"))
