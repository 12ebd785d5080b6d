"""Time of a sparse GCN layer: gradland.gcn.GCNLayer against PyTorch Geometric's GCNConv.

Both layers get the same weights and the same random directed graph (by
default 100 000 nodes and 1 000 000 edges drawn uniformly, 64 features in and
out), and both do the same work at every call: add the self-loops, compute
the degrees and the symmetric normalisation (GCNConv with cached=False), map
the features, and pass the messages along the edges. Two things are timed,
in alternating rounds so that a machine that slows down slows both: the
forward pass alone (under torch.no_grad()), and a forward plus backward pass
(the gradients of the weights and of the input features). The script prints
the median time of each, the speedup (their time divided by ours: above 1,
ours is faster) and the largest difference of the outputs, all measured by
gradland.bench.compare. The JSON output holds one comparison per pass,
"forward" and "forward_backward".

    python code/benchmarks/gcn_sparse.py                 # CPU, or the GPU if there is one
    python code/benchmarks/gcn_sparse.py --nodes 10000 --edges 100000 --device cuda

PyTorch Geometric is a development dependency (requirements.txt); the
package gradland does not need it.
"""

from __future__ import annotations

import argparse
import json
import sys

import gradland
import torch
from gradland.bench import compare
from gradland.data import random_graph
from gradland.gcn import GCNLayer

try:
    from torch_geometric.nn import GCNConv
except ImportError:  # pragma: no cover - exercised only without PyG
    GCNConv = None


def make_layers(nodes: int, edges: int, features: int, device: torch.device):
    torch.manual_seed(0)
    edge_index = random_graph(nodes, edges, seed=0, device=device)
    x = torch.randn(nodes, features, device=device)
    theirs = GCNConv(features, features, cached=False).to(device)
    ours = GCNLayer(features, features, sparse=True, device=device)
    with torch.no_grad():
        ours.lin.weight.copy_(theirs.lin.weight)
        ours.bias.copy_(torch.randn(features))  # a non-zero bias, the same for both
        theirs.bias.copy_(ours.bias)
    return ours, theirs, x, edge_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: gradland.device())")
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64, help="features in and out")
    parser.add_argument("--rounds", type=int, default=7, help="alternating timing rounds")
    parser.add_argument("--number", type=int, default=2, help="calls per timing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if GCNConv is None:
        sys.exit(
            "this benchmark compares with PyTorch Geometric, which is not installed: "
            "pip install torch_geometric (it is in requirements.txt)"
        )

    device = torch.device(args.device) if args.device else gradland.device()
    ours, theirs, x, edge_index = make_layers(args.nodes, args.edges, args.features, device)
    x_grad = x.clone().requires_grad_()

    def forward(layer):
        def run():
            with torch.no_grad():
                return layer(x, edge_index)

        return run

    def forward_backward(layer):
        def run():
            layer.zero_grad(set_to_none=True)
            x_grad.grad = None
            out = layer(x_grad, edge_index)
            out.square().mean().backward()
            return out.detach(), x_grad.grad

        return run

    result = {
        "nodes": args.nodes,
        "edges": args.edges,
        "features": args.features,
        "torch_threads": torch.get_num_threads(),
    }
    for name, make in (("forward", forward), ("forward_backward", forward_backward)):
        result[name] = compare(
            make(ours), make(theirs), rounds=args.rounds, number=args.number, warmup=1, device=device
        ).as_dict()
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"GCN layer, {args.nodes} nodes, {args.edges} edges, {args.features} features, {device} "
        f"({result['forward']['device']}, {result['torch_threads']} threads), "
        f"{args.rounds} rounds of {args.number} calls"
    )
    for name, label in (("forward", "forward           "), ("forward_backward", "forward + backward")):
        done = result[name]
        print(
            f"  {label} gradland {1e3 * done['ours_s']:9.1f} ms   PyG GCNConv {1e3 * done['theirs_s']:9.1f} ms"
            f"   speedup {done['speedup']:.3f}   largest difference {done['max_difference']:.1e}"
        )


if __name__ == "__main__":
    main()
