#!/usr/bin/env python3
"""Eager PyTorch reference of fcnlab's FCN-VGG16 for side-by-side training-step timing.

The same network as fcnlab's `model.padding = "caffe"` FCN (VGG16, 100-px pad on conv1_1, max-pool
ceil mode, fc6 7x7 / fc7 1x1 convs with dropout, zero-initialised 1x1 score layers, bilinear-
initialised learned transposed convs, the reference's crops), trained with the same step: forward,
per-pixel cross-entropy ignoring 255 (mean), backward, SGD momentum step. Times eager and, with
--compile, torch.compile, so fcnlab and both PyTorch modes run on the same GPU in the same call.

  python3 bench/eager_reference.py --batch 1 --size 500 --iters 30
  python3 bench/eager_reference.py --batch 16 --size 512 --amp bf16 --channels-last --compile
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def bilinear(channels, k):
    f = (k + 1) // 2
    c = f - 1 if k % 2 == 1 else f - 0.5
    og = torch.arange(k, dtype=torch.float32)
    filt = (1 - (og - c).abs() / f)
    w = torch.zeros(channels, channels, k, k)
    w[range(channels), range(channels)] = filt[:, None] * filt[None, :]
    return w


class FCN(nn.Module):
    CROPS = {32: (19,), 16: (27, 5), 8: (31, 9, 5)}  # final, pool4/pool3 crops (Caffe reference)

    def __init__(self, skip=8, classes=21, width=1.0, fc=4096, dropout=0.5):
        super().__init__()
        ch = [max(4, round(c * width)) for c in (64, 128, 256, 512, 512)]
        fc = max(4, round(fc * width))
        layers, cin = [], 3
        for b, n in enumerate((2, 2, 3, 3, 3)):
            for i in range(n):
                pad = 100 if (b == 0 and i == 0) else 1
                layers += [nn.Conv2d(cin, ch[b], 3, padding=pad), nn.ReLU(inplace=True)]
                cin = ch[b]
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        self.features = nn.ModuleList(layers)
        self.fc6 = nn.Conv2d(ch[4], fc, 7)
        self.fc7 = nn.Conv2d(fc, fc, 1)
        self.drop = nn.Dropout(dropout)  # element-wise, as fcnlab and the Caffe reference
        self.skip = skip
        self.score_fr = nn.Conv2d(fc, classes, 1)
        self.score_pool4 = nn.Conv2d(ch[3], classes, 1)
        self.score_pool3 = nn.Conv2d(ch[2], classes, 1)
        for s in (self.score_fr, self.score_pool4, self.score_pool3):
            nn.init.zeros_(s.weight)
            nn.init.zeros_(s.bias)
        final_k = {32: 64, 16: 32, 8: 16}[skip]
        self.upscore2 = nn.ConvTranspose2d(classes, classes, 4, 2, bias=False)
        self.upscore_pool4 = nn.ConvTranspose2d(classes, classes, 4, 2, bias=False)
        self.upscore_final = nn.ConvTranspose2d(classes, classes, final_k, final_k // 2, bias=False)
        for u in (self.upscore2, self.upscore_pool4, self.upscore_final):
            u.weight.data.copy_(bilinear(classes, u.kernel_size[0]))
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m not in (self.score_fr, self.score_pool4, self.score_pool3):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        h, w = x.shape[2:]
        pools, y, n_pool = {}, x, 0
        for layer in self.features:
            y = layer(y)
            if isinstance(layer, nn.MaxPool2d):
                n_pool += 1
                pools[n_pool] = y
        y = self.drop(F.relu(self.fc6(y), inplace=True))
        y = self.drop(F.relu(self.fc7(y), inplace=True))
        y = self.score_fr(y)
        crops = self.CROPS[self.skip]
        if self.skip <= 16:
            y = self.upscore2(y)
            s4 = self.score_pool4(pools[4])
            c = crops[-1]
            y = y + s4[:, :, c:c + y.shape[2], c:c + y.shape[3]]
        if self.skip <= 8:
            y = self.upscore_pool4(y)
            s3 = self.score_pool3(pools[3])
            c = crops[1]
            y = y + s3[:, :, c:c + y.shape[2], c:c + y.shape[3]]
        y = self.upscore_final(y)
        c = crops[0]
        return y[:, :, c:c + h, c:c + w]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=500)
    p.add_argument("--skip", type=int, default=8, choices=(32, 16, 8))
    p.add_argument("--classes", type=int, default=21)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--fc", type=int, default=4096, help="fc6/fc7 channels at width 1 (fcnlab's model.fc_channels)")
    p.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--compile-mode", default="default",
                   help="torch.compile mode (default, reduce-overhead = CUDA graphs, max-autotune: minutes to compile)")
    p.add_argument("--iters", type=int, default=20, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    def run(compiled):
        torch.manual_seed(0)
        model = FCN(a.skip, a.classes, a.width, a.fc).to(dev)
        fmt = torch.channels_last if a.channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
        x = torch.randn(a.batch, 3, a.size, a.size, device=dev).to(memory_format=fmt)
        t = torch.randint(0, a.classes, (a.batch, a.size, a.size), device=dev)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
        if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
            scaler = torch.amp.GradScaler(dev.type, enabled=a.amp == "fp16")
        else:
            scaler = torch.cuda.amp.GradScaler(enabled=a.amp == "fp16")

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(fwd(x), t, ignore_index=255)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

        fwd = torch.compile(model, mode=a.compile_mode) if compiled else model

        def sync():
            if dev.type == "cuda":
                torch.cuda.synchronize()

        # As `fcnlab bench train`: warm-up, then each repeat times `iters` steps between two
        # synchronisations (the host may queue ahead, as in training); the median repeat counts.
        for _ in range(a.warmup):
            step()
        sync()
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(a.repeats):
            sync()
            t0 = time.perf_counter()
            for _ in range(a.iters):
                step()
            sync()
            times.append((time.perf_counter() - t0) / a.iters)
        ms = statistics.median(times) * 1000
        peak = round(torch.cuda.max_memory_allocated() / 2**20) if dev.type == "cuda" else None
        return {"mode": "torch.compile" if compiled else "eager", "device": str(dev), "torch": torch.__version__,
                "batch": a.batch, "size": a.size, "amp": a.amp, "channels_last": a.channels_last,
                "ms_per_step": round(ms, 3), "img_per_s": round(1000 * a.batch / ms, 2), "peak_device_mib": peak}

    print(json.dumps(run(False)), flush=True)
    if a.compile:
        if hasattr(torch, "compile"):
            print(json.dumps(run(True)))
        else:
            print(json.dumps({"mode": "torch.compile", "error": f"torch.compile needs PyTorch 2 (this is {torch.__version__})"}))


if __name__ == "__main__":
    main()
