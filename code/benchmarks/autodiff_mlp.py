"""Training-step time of an MLP: gradland.autodiff against torch.autograd.

Both engines train the same MLP (64 -> width -> width -> 10, ReLU) on a batch
of scikit-learn's 8 x 8 digits with SGD, starting from the same weights. One
step is: forget the gradients, forward pass, cross-entropy, backward pass,
parameter update. gradland.bench.compare times the two steps in alternating
rounds, so that a machine that slows down slows both, and the script prints
the median time of each, the speedup (torch's time over ours: above 1, ours
is faster) and the largest difference of the first losses.

    python code/benchmarks/autodiff_mlp.py                 # CPU, or the GPU if there is one
    python code/benchmarks/autodiff_mlp.py --device cuda --batch 256 --width 512
"""

from __future__ import annotations

import argparse
import json

import gradland
import torch
import torch.nn.functional as F
from gradland import autodiff as ad
from gradland.autodiff_loss import cross_entropy
from gradland.autodiff_nn import MLP, SGD
from gradland.bench import compare
from sklearn.datasets import load_digits


def make_steps(batch: int, width: int, device: torch.device):
    torch.manual_seed(0)
    x_all, y_all = load_digits(return_X_y=True)
    idx = torch.randperm(len(x_all))[:batch] if batch <= len(x_all) else torch.randint(len(x_all), (batch,))
    x = torch.tensor(x_all / 16.0, dtype=torch.float32)[idx].to(device)
    y = torch.tensor(y_all)[idx].to(device)

    ours = MLP([64, width, width, 10], device=device)
    theirs = ours.to_torch()  # same starting point
    opt_ours = SGD(list(ours.parameters()), lr=0.01)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.01)
    x_ours = ad.Tensor(x)

    def step_ours():
        opt_ours.zero_grad()
        loss = cross_entropy(ours(x_ours), y)
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
    comparison = compare(step_ours, step_torch, rounds=args.rounds, number=args.number, device=device)
    result = {
        "batch": args.batch,
        "width": args.width,
        "torch_threads": torch.get_num_threads(),
        **comparison.as_dict(),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"MLP 64-{args.width}-{args.width}-10, batch {args.batch}, {device} ({comparison.device}), "
        f"{args.rounds} rounds of {args.number} steps; the first losses differ by "
        f"{comparison.max_difference:.1e}"
    )
    print(f"  gradland.autodiff : {1e3 * comparison.ours_s:8.3f} ms per step (median)")
    print(f"  torch.autograd    : {1e3 * comparison.theirs_s:8.3f} ms per step (median)")
    print(f"  speedup           : {comparison.speedup:8.3f} (torch's time / ours: above 1, ours is faster)")


if __name__ == "__main__":
    main()
