#!/usr/bin/env python3
"""The training data pipeline of `fcnlab bench data`, written with torchvision, for comparison.

torchvision.datasets.VOCSegmentation + PIL joint transforms (random scale: bilinear image /
nearest label; pad with the mean / 255 and random crop; flips; ToTensor + Normalize) + a
torch DataLoader with the same batch size, worker count and images. Prints images/s and ms per
batch in the same form as `fcnlab bench data`.

Usage (Debian's python3-torchvision; not the pyenv python):
  /usr/bin/python3 bench/data_torchvision.py --root datasets/toy-voc --batch 8 --crop 96 \
      --workers 2 --iters 50 [--scale 1.0 1.0] [--hflip] [--vflip] [--split train]
"""
import argparse
import os
import random
import tempfile
import time

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader
from torchvision import transforms as T
from torchvision.datasets import VOCSegmentation

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class JointTransform:
    def __init__(self, crop, scale, hflip, vflip):
        self.crop, self.scale, self.hflip, self.vflip = crop, scale, hflip, vflip
        self.fill = tuple(int(round(m * 255)) for m in MEAN)
        self.to_tensor = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])

    def __call__(self, img, lab):
        s = random.uniform(*self.scale)
        w, h = img.size
        sw, sh = max(1, round(w * s)), max(1, round(h * s))
        if (sw, sh) != (w, h):
            img = img.resize((sw, sh), Image.BILINEAR)
            lab = lab.resize((sw, sh), Image.NEAREST)
        c = self.crop
        if c > 0:
            if sw < c or sh < c:  # pad bottom/right
                pad = (0, 0, max(c - sw, 0), max(c - sh, 0))
                img = ImageOps.expand(img, pad, fill=self.fill)
                lab = ImageOps.expand(lab, pad, fill=255)
            x = random.randint(0, max(sw - c, 0))
            y = random.randint(0, max(sh - c, 0))
            img = img.crop((x, y, x + c, y + c))
            lab = lab.crop((x, y, x + c, y + c))
        if self.hflip and random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
            lab = lab.transpose(Image.FLIP_LEFT_RIGHT)
        if self.vflip and random.random() < 0.5:
            img = img.transpose(Image.FLIP_TOP_BOTTOM)
            lab = lab.transpose(Image.FLIP_TOP_BOTTOM)
        return self.to_tensor(img), torch.as_tensor(np.array(lab), dtype=torch.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="VOC-format root (the folder holding JPEGImages)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--scale", type=float, nargs=2, default=(1.0, 1.0))
    ap.add_argument("--hflip", action="store_true")
    ap.add_argument("--vflip", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    torch.manual_seed(0)
    random.seed(0)

    # VOCSegmentation wants <root>/VOCdevkit/VOC2012: point a temporary folder at the data.
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "VOCdevkit"))
        os.symlink(os.path.abspath(args.root), os.path.join(tmp, "VOCdevkit", "VOC2012"))
        ds = VOCSegmentation(tmp, year="2012", image_set=args.split, download=False,
                             transforms=JointTransform(args.crop, args.scale, args.hflip, args.vflip))
        loader = DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers, drop_last=True,
                            persistent_workers=args.workers > 0)

        def batches():
            while True:
                yield from loader

        it = batches()
        for _ in range(2):
            next(it)
        t0 = time.perf_counter()
        for _ in range(args.iters):
            images, labels = next(it)
        secs = time.perf_counter() - t0
        print(f"torchvision data: {args.root} ({len(ds)} images), batch {args.batch}, crop {args.crop}, "
              f"scale [{args.scale[0]}, {args.scale[1]}], workers {args.workers}, torch threads {torch.get_num_threads()}")
        print(f"  {args.iters * args.batch / secs:.1f} images/s, {1000 * secs / args.iters:.2f} ms per batch "
              f"({args.iters} batches, {secs:.2f} s)")


if __name__ == "__main__":
    main()
