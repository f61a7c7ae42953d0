"""The ``sagetutor`` command."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sagetutor", description="Learn Amazon SageMaker on a simulated SageMaker that "
                                                              "really runs: real models, virtual time, an itemized bill.")
    sub = p.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run a Spot training job with an injected interruption, resume it from its "
                                       "checkpoint, deploy the model, and print the timeline and the bill")
    demo.add_argument("--seed", type=int, default=7, help="the engine seed (default 7)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from sagetutor.demo import run

        return run(seed=args.seed, out=sys.stdout)
    _parser().print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
