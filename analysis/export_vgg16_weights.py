#!/usr/bin/python3
"""Write torchvision's VGG16 weights to HDF5 for fcnlab's `model.pretrained`.

One float32 dataset per state-dict tensor at the file's root, under torchvision's names
(features.0.weight, ..., classifier.0.weight [4096, 25088], classifier.3.*, classifier.6.*).
fcnlab convolutionalises classifier.0/3 into fc6/fc7 and ignores classifier.6.

  export_vgg16_weights.py vgg16.h5 --weights vgg16-397923af.pth   # your downloaded ImageNet weights
  export_vgg16_weights.py vgg16.h5 --random --seed 3              # torchvision's random init (tests)

--reference REF.h5 also writes a cross-check for fcnlab's tests: `input` [1,3,S,S] (standard normal,
from --seed) and `fc7` [1,4096] = classifier[:6](flatten(avgpool(features(input)))) in eval mode,
i.e. torchvision's classifier output before its last layer (after fc7's ReLU; dropout is off).

Uses Debian's python3-torchvision and python3-h5py (run with /usr/bin/python3).
"""
import argparse
import sys

import h5py
import torch
import torchvision


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="HDF5 file to write")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", help="a torchvision VGG16 state dict (.pth), e.g. vgg16-397923af.pth")
    src.add_argument("--random", action="store_true", help="torchvision's random initialisation")
    ap.add_argument("--seed", type=int, default=0, help="seed of --random and of the reference input")
    ap.add_argument("--reference", help="also write a reference input and fc7 output to this HDF5 file")
    ap.add_argument("--size", type=int, default=224, help="reference input size (default 224)")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    model = torchvision.models.vgg16(weights=None)
    if args.weights:
        state = torch.load(args.weights, map_location="cpu")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        model.load_state_dict(state)
    model.eval()

    state = model.state_dict()
    with h5py.File(args.out, "w") as f:
        for name, tensor in state.items():
            f.create_dataset(name, data=tensor.detach().to(torch.float32).contiguous().numpy())
        f.attrs["arch"] = "vgg16"
        f.attrs["source"] = args.weights if args.weights else f"random init, seed {args.seed}"
        f.attrs["torchvision_version"] = torchvision.__version__
        f.attrs["parameters"] = sum(t.numel() for t in model.parameters())

    if args.reference:
        gen = torch.Generator().manual_seed(args.seed)
        x = torch.randn(1, 3, args.size, args.size, generator=gen)
        with torch.no_grad():
            h = torch.flatten(model.avgpool(model.features(x)), 1)
            fc7 = model.classifier[:6](h)
        with h5py.File(args.reference, "w") as f:
            f.create_dataset("input", data=x.numpy())
            f.create_dataset("fc7", data=fc7.numpy())
            f.attrs["what"] = "fc7 = vgg16.classifier[:6](flatten(avgpool(features(input)))), eval mode"
    print(f"wrote {args.out}" + (f" and {args.reference}" if args.reference else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
