"""Sample quality of a trained run (SPEC §6): `evaluate(run_dir)` -> RUN_DIR/utility.json.

The generator's samples are compared with the holdout part H on the features of a classifier
trained on the test part T (`metrics.feature_net`, cached); the floor is the same comparison for
real records: R (or, when the run has no R, T with the feature network's unseen slice first)
against H, with as many records as the generated set where R or T has that many. A generator that
reaches the floor is as close to H as fresh real data is.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganguard.data.tabular import frame_from_matrix
from ganguard.devices import current_device, using
from ganguard.errors import GanguardError
from ganguard.metrics.feature_net import (
    FeatureNetSettings,
    FeatureNetwork,
    classifier_accuracy,
    feature_network,
    train_classifier,
)
from ganguard.metrics.utility import columns, utility
from ganguard.runs import load_run, read_json, write_atomic
from ganguard.tables import number, text

UTILITY_FILE = "utility.json"
DEFAULT_MAX_N = 2000  # enough for stable FID on small feature nets, quick on a CPU


@dataclass
class UtilityResult:
    run_dir: str
    method: str
    dataset: str
    step: int  # the checkpoint evaluated
    seed: int  # latents, floor records and KID subsets
    n_generated: int
    n_holdout: int
    n_floor: int
    floor_source: str  # "reference" (R) or "test" (T)
    feature_net: dict[str, Any]  # arch, feature_dim, test_accuracy, sizes, settings, cache path
    generated: dict[str, float | None]  # generated vs H: every utility metric's columns
    floor: dict[str, float | None]  # real vs H, the same keys
    notes: list[str]  # what the metrics want the reader to know (e.g. Inception FID skipped)
    # conditional runs: train-on-synthetic / train-on-real accuracy on T (None otherwise)
    classification: dict[str, Any] | None
    seconds: float
    created: str  # UTC, ISO 8601
    # a run on a table: its utility (ganguard.metrics.tabular_utility) for the generated records
    # and for the floor (H in their place), both against S and T; None for images
    table: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any, where: str = "utility") -> UtilityResult:
        """A result as `to_dict` wrote it (e.g. read back from utility.json)."""
        try:
            return cls(**raw)
        except TypeError as err:
            message = f"{where} is not a ganguard utility evaluation ({err}): rerun evaluate"
            raise GanguardError(message) from None

    @classmethod
    def load(cls, path: str | Path) -> UtilityResult:
        return cls.from_dict(read_json(Path(path)), str(path))


def evaluate(
    run_dir: str | Path,
    n: int | None = None,
    seed: int = 0,
    *,
    out: str | Path | None = None,
    kid_subsets: int = 100,
    inception: bool = True,
    feature_settings: FeatureNetSettings | None = None,
    step: int | None = None,
    device: str | None = "auto",
) -> UtilityResult:
    """Utility metrics of a run: `n` generated samples (default min(|H|, 2 000)) against H, and
    the real-vs-real floor, for the last checkpoint (or the kept one at `step`). Writes `out`
    (default RUN_DIR/utility.json) atomically. The generator and the feature networks run on
    `device`."""
    with using(device):
        return _evaluate(run_dir, n, seed, out, kid_subsets, inception, feature_settings, step)


def _evaluate(run_dir, n, seed, out, kid_subsets, inception, feature_settings, step):  # noqa: ANN001, ANN202
    from ganguard.data import load_run_data
    from ganguard.data.split import check_split

    started = time.perf_counter()
    run = load_run(run_dir, step, current_device())
    ds = load_run_data(run.config.data)
    check_split(run.split, ds, run.method.layout)
    split = run.split
    if len(split.holdout) < 2:
        raise GanguardError(f"{run_dir}: utility needs holdout records (data.n_holdout >= 2)")
    if n is None:
        n = min(len(split.holdout), DEFAULT_MAX_N)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise GanguardError(f"--n must be an integer of at least 2, got {n!r}")
    if ds.is_table:
        return _evaluate_table(run, ds, n, seed, out, started)

    net = feature_network(ds, split.test, feature_settings)
    generated = run.method.sample(n, torch.Generator().manual_seed(seed)).numpy()
    classification = None
    if run.method.conditional:
        classification = synthetic_vs_real_accuracy(
            run.method, ds, split.members, net, seed, feature_settings
        )
    if not np.isfinite(generated).all():
        raise GanguardError(f"{run_dir}: the generator produced NaN or infinite samples")
    if len(split.reference):
        source = "reference"
        pick = np.random.default_rng(seed).permutation(split.reference)
    else:
        # records the feature network never trained on come first
        source = "test"
        pick = np.r_[net.eval_index, np.setdiff1d(split.test, net.eval_index)]
    floor_real = ds.x[np.sort(pick[:n])]

    figures = utility(
        generated,
        ds.x[split.holdout],
        floor_real,
        net.features,
        kid_subsets=kid_subsets,
        seed=seed,
        inception=inception,
    )
    result = UtilityResult(
        run_dir=str(run.path),
        method=run.config.method.name,
        dataset=ds.name,
        step=run.step,
        seed=seed,
        n_generated=len(generated),
        n_holdout=len(split.holdout),
        n_floor=len(floor_real),
        floor_source=source,
        feature_net={**net.info, "cache_path": str(net.path), "trained_now": net.trained},
        generated=figures["generated"],
        floor=figures["floor"],
        notes=figures["notes"],
        classification=classification,
        seconds=round(time.perf_counter() - started, 3),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    out = Path(out) if out is not None else run.path / UTILITY_FILE
    write_atomic(out, json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def _evaluate_table(run, ds, n, seed, out, started) -> UtilityResult:  # noqa: ANN001
    """A table's utility: the generated records decoded, against S (column shapes, pair trends,
    detection) and T (train-on-synthetic); the floor is H in their place."""
    from ganguard.metrics.tabular_utility import tabular_utility

    split, schema = run.split, ds.schema
    if len(split.test) < 2:
        raise GanguardError(f"{run.path}: a table's utility needs test records (data.n_test >= 2)")
    x, y = run.method.sample_labelled(n, torch.Generator().manual_seed(seed))
    if not np.isfinite(x.numpy()).all():
        raise GanguardError(f"{run.path}: the generator produced NaN or infinite samples")
    generated = ds.codec.to_frame(x.numpy(), None if y is None else y.numpy())
    frame = lambda idx: frame_from_matrix(ds.canonical[idx], schema)  # noqa: E731
    members, holdout, test = frame(split.members), frame(split.holdout), frame(split.test)
    kinds, target = schema.kinds, schema.target
    table = {"generated": tabular_utility(generated, members, test, kinds, target, seed),
             "floor": tabular_utility(holdout.iloc[:n], members, test, kinds, target, seed)}
    pick = lambda d: {k: d.get(k) for k in TABLE_KEYS}  # noqa: E731
    result = UtilityResult(
        run_dir=str(run.path), method=run.config.method.name, dataset=ds.name, step=run.step,
        seed=seed, n_generated=len(generated), n_holdout=len(split.holdout),
        n_floor=min(n, len(split.holdout)), floor_source="holdout", feature_net={},
        generated={"fid": None, **pick(table["generated"])},
        floor={"fid": None, **pick(table["floor"])},
        notes=["a table: no FID; train-on-real (members -> T) "
               f"AUC {number(table['generated'].get('trtr_auc'))}"],
        classification=None, seconds=round(time.perf_counter() - started, 3),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), table=table,
    )  # fmt: skip
    out = Path(out) if out is not None else run.path / UTILITY_FILE
    write_atomic(out, json.dumps(result.to_dict(), indent=2) + "\n")
    return result


TABLE_KEYS = {"tstr_auc": "train-on-synthetic ROC AUC on T (higher is better)",
              "tstr_accuracy": "train-on-synthetic accuracy on T",
              "column_shapes": "column shapes vs S (1 - KS / TV; 1 is best)",
              "pair_trends": "column-pair trends vs S (1 is best)",
              "detection_auc": "detection AUC, synthetic vs S (0.5 is best)"}  # fmt: skip


def synthetic_vs_real_accuracy(
    method,  # noqa: ANN001 - a trained conditional Method
    ds,  # noqa: ANN001 - its Dataset
    members: np.ndarray,
    net: FeatureNetwork,
    seed: int,
    settings: FeatureNetSettings | None = None,
) -> dict[str, Any]:
    """Train-on-synthetic / test-on-real (TSTR): a classifier of the feature network's kind
    trained on |S| labelled samples of the conditional generator, and the same classifier trained
    on S itself (train-on-real), both tested on the records of T the feature network held out."""
    settings = settings or FeatureNetSettings()
    x_syn, y_syn = method.sample_labelled(len(members), torch.Generator().manual_seed(seed + 1))
    test_x, test_y = ds.x[net.eval_index], ds.y[net.eval_index]
    n_classes = method.n_classes
    on_synthetic = train_classifier(x_syn.numpy(), y_syn.numpy(), ds.shape, n_classes, settings)
    on_real = train_classifier(ds.x[members], ds.y[members], ds.shape, n_classes, settings)
    return {
        "train_on_synthetic": classifier_accuracy(on_synthetic, test_x, test_y),
        "train_on_real": classifier_accuracy(on_real, test_x, test_y),
        "n_train": len(members),
        "n_test": len(net.eval_index),
    }


def format_utility_table(result: UtilityResult) -> str:
    """metric | generated vs H | floor (real vs real), then the feature network's accuracy."""
    if result.table is not None:
        rows = [[label, number(result.generated.get(k)), number(result.floor.get(k))]
                for k, label in TABLE_KEYS.items()]  # fmt: skip
        g = result.table["generated"]
        return "\n".join([
            text(["metric", "generated", "floor (H in their place)"], rows),
            f"train-on-real (the members) AUC {number(g.get('trtr_auc'))}, accuracy "
            f"{number(g.get('trtr_accuracy'))} on {g.get('n_test')} records of T; "
            f"{result.n_generated} generated records",
        ])  # fmt: skip
    rows = [[key, number(result.generated.get(key)), number(result.floor.get(key))]
            for key in columns()]  # fmt: skip
    lines = [text(["metric", "generated vs H", f"floor ({result.floor_source} vs H)"], rows)]
    fn = result.feature_net
    lines.append(
        f"feature network: {fn['arch']}, {fn['feature_dim']} features, test accuracy "
        f"{fn['test_accuracy']:.3f} on {fn['n_eval']} records of T"
    )
    lines.append(
        f"{result.n_generated} generated, {result.n_holdout} holdout, {result.n_floor} floor "
        f"records" + "".join(f"; {note}" for note in result.notes)
    )
    c = result.classification
    if c is not None:
        lines.append(
            f"classifier accuracy on {c['n_test']} records of T: trained on {c['n_train']} "
            f"synthetic {c['train_on_synthetic']:.3f}, on the {c['n_train']} members "
            f"{c['train_on_real']:.3f}"
        )
    return "\n".join(lines)
