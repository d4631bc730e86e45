"""ganguard's `domias` beside the reference DOMIAS formula (van Breugel et al. 2023,
`domias.evaluator.evaluate_performance` with `density_estimator="kde"`) on the same tables.

The reference fits `scipy.stats.gaussian_kde` to the synthetic records and to the reference
records, in the data's own coordinates and all of its dimensions, and scores p_G(x) / (p_R(x) +
1e-30). ganguard's fits the same Gaussian KDEs (Scott's rule, full covariance) in a PCA space
fitted on R, on the audit's encoding of the table (quantile levels, one-hot, every column of
diameter 1). Per run, on one set of decoded samples, the members, the holdout and R of its split:

- `ganguard`: `ganguard.audit(samples=..., members=..., nonmembers=..., reference=...,
  attacks="domias")`;
- `reference, ganguard's encoding`: the reference formula on the audit's encoding (one-hot blocks
  make that covariance singular, which scipy refuses: the row says so);
- `reference, canonical matrix`: the reference formula on the table's canonical matrix (numbers
  as they are, a category as its label's index, a missing label as -1), the encoding a user
  without ours would reach for first.

    python benchmarks/domias_reference.py --runs DIR [DIR ...] [--k 10000]

Figures go to benchmarks/results/domias_reference.json and .md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def reference_domias(samples: np.ndarray, reference: np.ndarray, members: np.ndarray,
                     holdout: np.ndarray) -> float | str:  # fmt: skip
    """The reference's AUC (its KDE branch, as written there), or why scipy refused."""
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    try:
        density_gen = stats.gaussian_kde(samples.T)
        density_data = stats.gaussian_kde(reference.T)
    except np.linalg.LinAlgError as err:
        return f"scipy refused: {err}"
    score = lambda x: density_gen(x.T) / (density_data(x.T) + 1e-30)  # noqa: E731
    labels = np.r_[np.ones(len(members)), np.zeros(len(holdout))]
    return float(roc_auc_score(labels, np.r_[score(members), score(holdout)]))


def canonical(frame: Any, schema: Any) -> np.ndarray:  # noqa: ANN401 - a DataFrame, a Schema
    from ganguard.data.tabular import canonical_matrix

    matrix = canonical_matrix(frame, schema).astype(np.float64)
    return np.where(np.isnan(matrix), -1.0, matrix)  # a missing label: a category of its own


def compare(run_dir: Path, k: int, seed: int = 0) -> dict[str, Any]:
    import torch

    from ganguard.audit import audit
    from ganguard.data import load_run_data
    from ganguard.data.codec import encode_audit_tables
    from ganguard.data.tabular import frame_from_matrix
    from ganguard.runs import load_run

    run = load_run(run_dir)
    ds, split = load_run_data(run.config.data), run.split
    x, y = run.method.sample_labelled(k, torch.Generator().manual_seed(seed))
    samples = ds.codec.to_frame(x.numpy(), None if y is None else y.numpy())
    frame = lambda idx: frame_from_matrix(ds.canonical[idx], ds.schema)  # noqa: E731
    members, holdout, reference = frame(split.members), frame(split.holdout), \
        frame(split.reference)  # fmt: skip
    n = min(len(members), len(holdout))
    members, holdout = members.iloc[:n], holdout.iloc[:n]
    started = time.perf_counter()
    ours = audit(samples=samples, members=members, nonmembers=holdout, reference=reference,
                 attacks="domias", n_per_class=n, k=k, plots=False, seed=seed)  # fmt: skip
    ours_s = time.perf_counter() - started
    encoded = encode_audit_tables(samples, members, holdout, reference)
    started = time.perf_counter()
    flat = [np.asarray(e, dtype=np.float64).reshape(len(e), -1) for e in encoded]
    on_ours = reference_domias(flat[0], flat[3], flat[1], flat[2])
    on_canonical = reference_domias(*(canonical(f, ds.schema)
                                      for f in (samples, reference, members, holdout)))
    reference_s = time.perf_counter() - started
    return {"run": run_dir.name, "data": ds.name, "method": run.config.method.name,
            "k": k, "n_per_class": n, "n_reference": len(reference),
            "ganguard": ours.attacks["domias"].metrics["auc"],
            "ganguard_ci": list(ours.attacks["domias"].metrics["auc_ci"]),
            "reference_on_ganguard_encoding": on_ours, "reference_on_canonical": on_canonical,
            "ganguard_s": ours_s, "reference_s": reference_s}  # fmt: skip


def markdown(figures: dict[str, Any]) -> str:
    from ganguard.tables import markdown as table
    from ganguard.tables import number

    def cell(v: Any) -> str:  # noqa: ANN401
        return number(v) if isinstance(v, float) else "refused (singular covariance)"

    rows = [[r["run"], f"{number(r['ganguard'])} [{number(r['ganguard_ci'][0])}, "
             f"{number(r['ganguard_ci'][1])}]", cell(r["reference_on_ganguard_encoding"]),
             cell(r["reference_on_canonical"])] for r in figures["rows"]]  # fmt: skip
    head = ["run", "ganguard `domias` AUC [95%]", "reference, ganguard's encoding",
            "reference, canonical matrix"]
    return table(head, rows) + f"\n{figures['command']}\n\n{figures['machine']}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="table run directories")
    parser.add_argument("--k", type=int, default=10_000, help="samples (the reference's 10 000)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    from ganguard.devices import describe_machine

    rows = [compare(Path(r), args.k) for r in args.runs]
    names = " ".join(f"WORK/{Path(r).name}" for r in args.runs)
    figures = {"rows": rows, "machine": describe_machine(),
               "command": f"python benchmarks/domias_reference.py --runs {names} --k {args.k}"
                          " (WORK: the --work folder of benchmarks/tabular.py)"}  # fmt: skip
    out = Path(args.out)
    (out / "domias_reference.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / "domias_reference.md").write_text(markdown(figures))
    print(markdown(figures))


if __name__ == "__main__":
    main()
