"""Training-step time of an MLP: gradland.autodiff against torch.autograd.

Both engines train the same MLP (64 -> width -> width -> 10, ReLU) on a batch
of scikit-learn's 8 x 8 digits with SGD, starting from the same weights. One
step is: forget the gradients, forward pass, cross-entropy, backward pass,
parameter update. The two steps are timed in alternating rounds, so that a
machine that slows down slows both, and the script prints the median time of
each and their ratio.

    python code/benchmarks/autodiff_mlp.py                 # CPU, or the GPU if there is one
    python code/benchmarks/autodiff_mlp.py --device cuda --batch 256 --width 512
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

import gradland
from gradland import autodiff as ad
from gradland.bench import median_time


def make_steps(batch: int, width: int, device: torch.device):
    torch.manual_seed(0)
    x_all, y_all = load_digits(return_X_y=True)
    idx = torch.randperm(len(x_all))[:batch] if batch <= len(x_all) else torch.randint(len(x_all), (batch,))
    x = torch.tensor(x_all / 16.0, dtype=torch.float32)[idx].to(device)
    y = torch.tensor(y_all)[idx].to(device)

    ours = ad.MLP([64, width, width, 10], device=device)
    theirs = ours.to_torch()  # same starting point
    opt_ours = ad.SGD(list(ours.parameters()), lr=0.01)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.01)
    x_ours = ad.Tensor(x)

    def step_ours():
        opt_ours.zero_grad()
        loss = ad.cross_entropy(ours(x_ours), y)
        loss.backward()
        opt_ours.step()
        return loss.data

    def step_torch():
        opt_theirs.zero_grad()
        loss = F.cross_entropy(theirs(x), y)
        loss.backward()
        opt_theirs.step()
        return loss.detach()

    return step_ours, step_torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: gradland.device())")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=15, help="alternating timing rounds")
    parser.add_argument("--number", type=int, default=10, help="steps per timing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    device = torch.device(args.device) if args.device else gradland.device()
    step_ours, step_torch = make_steps(args.batch, args.width, device)
    for _ in range(3):  # warm up both (allocator, kernels)
        step_ours(), step_torch()
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(median_time(step_ours, repeat=1, number=args.number, warmup=0))
        theirs.append(median_time(step_torch, repeat=1, number=args.number, warmup=0))
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "batch": args.batch,
        "width": args.width,
        "gradland_ms": 1e3 * statistics.median(ours),
        "torch_ms": 1e3 * statistics.median(theirs),
    }
    result["ratio"] = result["gradland_ms"] / result["torch_ms"]
    if args.json:
        print(json.dumps(result))
        return
    print(f"MLP 64-{args.width}-{args.width}-10, batch {args.batch}, {device} ({result['device']}), "
          f"{args.rounds} rounds of {args.number} steps")
    print(f"  gradland.autodiff : {result['gradland_ms']:8.3f} ms per step (median)")
    print(f"  torch.autograd    : {result['torch_ms']:8.3f} ms per step (median)")
    print(f"  ratio             : {result['ratio']:8.3f}")


if __name__ == "__main__":
    main()
