"""The `dnnbench` command.

dnnbench list              ops with their variants (ladder order, baseline marked)
"""

from __future__ import annotations

import argparse
import sys


def cmd_list(args) -> int:
    from kernels import registry

    for op in registry.ops():
        spec = registry.spec(op)
        print(f"{op}  ({spec.work_model})")
        for v in registry.variants(op):
            mark = "  [baseline]" if v.baseline else ""
            where = ", ".join(v.devices) + (" (cpu: Triton interpreter, not timed)" if v.interpreted_on_cpu else "")
            print(f"  {v.rung}  {v.name:<15} {v.doc}{mark}\n     {'':<15} devices: {where}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dnnbench", description="dnnbench: op ladders and lessons, timed and checked")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("list", help="ops with their variants")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
