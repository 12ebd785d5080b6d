"""Forward + backward throughput of a transformer encoder block: gradland against torch.nn.

gradland.transformer.EncoderBlock, on its fused path, and
torch.nn.TransformerEncoderLayer with the same configuration (batch_first,
no dropout) and the same weights (copied with EncoderBlock.from_torch) map
the same batch of sets; one step is a forward pass and a backward pass of a
fixed output gradient into the weights and the input. gradland.bench.compare
times the two steps in alternating rounds, so that a machine that slows down
slows both, and the script prints the median tokens per second of each, the
speedup (their time over ours: above 1, ours is faster) and the largest
difference of the outputs.

On CUDA it also reports the model FLOP utilisation (MFU): the block's matrix
products are counted analytically, 2 (B t)(3d^2 + d^2 + 2 d d_ff) + 4 B t^2 d
FLOPs forward (projections, feed-forward, scores and weighted sums), three
times that for forward + backward, and the FLOP/s achieved are divided by
--peak-tflops.

    python code/benchmarks/transformer_block.py                 # CPU, or the GPU if there is one
    python code/benchmarks/transformer_block.py --device cuda --dtype bfloat16 --batch 32 --seq 1024 --d-model 1024 --heads 16
"""

from __future__ import annotations

import argparse
import json

import gradland
import torch
from gradland.bench import compare
from gradland.transformer import EncoderBlock
from torch import nn

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def block_flops(batch: int, seq: int, d_model: int, d_ff: int) -> int:
    """Matrix-product FLOPs of one forward pass of the block (a multiply-add counts 2)."""
    tokens = batch * seq
    projections = 2 * tokens * (3 * d_model * d_model + d_model * d_model)  # W_q, W_k, W_v and W_o
    feed_forward = 2 * tokens * (2 * d_model * d_ff)  # the two k = 1 convolutions
    attention = 2 * 2 * batch * seq * seq * d_model  # scores K^T q and the sums V a, all heads together
    return projections + feed_forward + attention


def make_steps(args, device: torch.device):
    torch.manual_seed(0)
    dtype = DTYPES[args.dtype]
    d_ff = args.d_ff or 4 * args.d_model
    theirs = nn.TransformerEncoderLayer(
        args.d_model,
        args.heads,
        d_ff,
        dropout=0.0,
        activation=args.activation,
        batch_first=True,
        norm_first=args.norm_first,
        device=device,
        dtype=dtype,
    )
    ours = EncoderBlock.from_torch(theirs, fused=True)
    x = torch.randn(args.batch, args.seq, args.d_model, device=device, dtype=dtype, requires_grad=True)
    grad = torch.randn_like(x)

    def step(layer: nn.Module):
        def run():
            layer.zero_grad(set_to_none=True)
            x.grad = None
            out = layer(x)
            out.backward(grad)
            return out.detach()

        return run

    return step(ours), step(theirs), d_ff


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="MFU is reported on CUDA only; the default peak, 989 TFLOP/s, is the dense bfloat16 "
        "peak of an NVIDIA H100 SXM: pass your GPU's peak for your dtype with --peak-tflops.",
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: gradland.device())")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--d-ff", type=int, default=None, help="hidden size of the feed-forward block (default 4 d)")
    parser.add_argument("--activation", choices=["relu", "gelu"], default="relu")
    parser.add_argument("--norm-first", action="store_true", help="pre-norm block (default post-norm)")
    parser.add_argument("--rounds", type=int, default=9, help="alternating timing rounds")
    parser.add_argument("--number", type=int, default=3, help="steps per timing")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=989.0,
        help="peak TFLOP/s for the MFU on CUDA (default 989: H100 SXM, dense bfloat16)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    device = torch.device(args.device) if args.device else gradland.device()
    step_ours, step_theirs, d_ff = make_steps(args, device)
    comparison = compare(step_ours, step_theirs, rounds=args.rounds, number=args.number, device=device)
    tokens = args.batch * args.seq
    result = {
        "torch_threads": torch.get_num_threads(),
        "dtype": args.dtype,
        "batch": args.batch,
        "seq": args.seq,
        "d_model": args.d_model,
        "heads": args.heads,
        "d_ff": d_ff,
        **comparison.as_dict(),
        "gradland_tokens_per_s": tokens / comparison.ours_s,
        "torch_tokens_per_s": tokens / comparison.theirs_s,
    }
    if device.type == "cuda":
        flops = 3 * block_flops(args.batch, args.seq, args.d_model, d_ff)
        peak = args.peak_tflops * 1e12
        result["peak_tflops"] = args.peak_tflops
        result["gradland_mfu"] = flops / comparison.ours_s / peak
        result["torch_mfu"] = flops / comparison.theirs_s / peak
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"encoder block d={args.d_model}, {args.heads} heads, d_ff={d_ff}, batch {args.batch} x {args.seq} "
        f"tokens, {args.dtype}, {device} ({comparison.device}), {args.rounds} rounds of {args.number} steps "
        f"(forward + backward); outputs differ by at most {comparison.max_difference:.2e}"
    )
    print(f"  gradland.transformer.EncoderBlock       : {result['gradland_tokens_per_s']:10.0f} tokens/s (median)")
    print(f"  torch.nn.TransformerEncoderLayer        : {result['torch_tokens_per_s']:10.0f} tokens/s (median)")
    print(f"  speedup, their time / ours (above 1: ours is faster): {comparison.speedup:10.3f}")
    if device.type == "cuda":
        print(
            f"  MFU (peak {args.peak_tflops:g} TFLOP/s): gradland {100 * result['gradland_mfu']:.1f} %, "
            f"torch {100 * result['torch_mfu']:.1f} %"
        )


if __name__ == "__main__":
    main()
