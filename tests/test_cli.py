"""The command line (SPEC §7): every bad input is one `ganguard: error:` line on stderr, exit
code 2, no traceback and no run directory; `datasets` lists every data set."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ganguard.data import dataset_names

SIZES = {"n_members": 4, "n_holdout": 2, "n_reference": 0, "n_test": 0}
IDX_FILES = {
    "train-images-idx3-ubyte.gz": 0x803,
    "train-labels-idx1-ubyte.gz": 0x801,
    "t10k-images-idx3-ubyte.gz": 0x803,
    "t10k-labels-idx1-ubyte.gz": 0x801,
}


def idx_bytes(magic: int, array: np.ndarray) -> bytes:
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def idx_folder(
    folder: Path, n_images: int = 3, n_labels: int = 3, image_magic: int = 0x803
) -> Path:
    """The four Fashion-MNIST IDX files, gzipped and valid unless told otherwise."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (n_images, 28, 28))
        labels = np.arange(n_labels) % 10
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(image_magic, images))
        )
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(0x801, labels))
        )
    return folder


@pytest.fixture
def cli_case(tiny_config: dict, write_config, tmp_path: Path):
    """cli_case(data=..., **sections) -> (config path, an --out that must stay absent)."""

    def _case(data: dict | None = None, **sections: dict) -> tuple[Path, Path]:
        config = dict(tiny_config)
        if data is not None:
            config["data"] = data
        config.update(sections)
        return write_config(config), tmp_path / "run"

    return _case


def check_no_run(out: Path) -> None:
    assert not out.exists(), f"{out} was created: {sorted(p.name for p in out.rglob('*'))}"


def test_a_good_train_and_its_overrides(cli_case, run_cli) -> None:
    cfg, out = cli_case()
    code, stdout, err = run_cli("train", cfg, "--out", out, "--set", "train.steps=5",
                                "--set", "train.log_every=5")  # fmt: skip
    assert code == 0, err
    assert err == ""
    assert "for 5 steps" in stdout
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["steps"] == 5 and saved["data"]["name"] == "digits"
    assert (out / "checkpoints" / "step_0000005").is_dir()


def test_missing_data_file(cli_case, expect_cli_error, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.npz"
    cfg, out = cli_case(data={"name": "npz", "path": str(missing), **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "nowhere.npz" in line and "does not exist" in line
    check_no_run(out)


def test_corrupt_gzip(cli_case, expect_cli_error, tmp_path: Path) -> None:
    folder = tmp_path / "fashion"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in IDX_FILES:
        (folder / name).write_bytes(b"\x1f\x8b" + rng.bytes(200))  # a gzip magic, then garbage
    cfg, out = cli_case(data={"name": "fashion-mnist", "path": str(folder), **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "gzip" in line and "ubyte.gz" in line
    check_no_run(out)


def test_garbage_that_is_not_even_gzip(cli_case, expect_cli_error, tmp_path: Path) -> None:
    folder = tmp_path / "fashion"
    folder.mkdir()
    for name in IDX_FILES:
        (folder / name).write_bytes(b"this is not a gzip file at all" * 10)
    cfg, out = cli_case(data={"name": "fashion-mnist", "path": str(folder), **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "ubyte.gz" in line
    check_no_run(out)


def test_idx_with_a_wrong_magic_number(cli_case, expect_cli_error, tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "fashion", image_magic=0x804)
    cfg, out = cli_case(data={"name": "fashion-mnist", "path": str(folder), **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "magic" in line and "0x00000804" in line
    check_no_run(out)


def test_image_and_label_counts_differ(cli_case, expect_cli_error, tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "fashion", n_images=3, n_labels=2)
    cfg, out = cli_case(data={"name": "fashion-mnist", "path": str(folder), **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "3 images" in line and "2 labels" in line
    check_no_run(out)


def test_valid_idx_files_do_load(tmp_path: Path) -> None:
    """The folders above fail for the planted reason only: a valid one loads."""
    from ganguard.data import load_dataset

    ds = load_dataset("fashion-mnist", idx_folder(tmp_path / "fashion"))
    assert ds.x.shape == (6, 1, 28, 28)


def test_nan_in_an_npz(cli_case, expect_cli_error, tmp_path: Path) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (20, 1, 8, 8)).astype(np.float32)
    x[3, 0, 2, 2] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, x=x)
    cfg, out = cli_case(data={"name": "npz", "path": str(path), **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "NaN" in line
    check_no_run(out)


def test_more_members_than_records(cli_case, expect_cli_error) -> None:
    cfg, out = cli_case(data={"name": "digits", "n_members": 5000, "n_holdout": 64,
                              "n_reference": 0, "n_test": 0})  # fmt: skip
    line = expect_cli_error("train", cfg, "--out", out)
    assert "n_members" in line and "1797" in line
    check_no_run(out)


def test_unknown_data_set(cli_case, expect_cli_error) -> None:
    cfg, out = cli_case(data={"name": "imagenet", **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "imagenet" in line
    check_no_run(out)


@pytest.mark.parametrize(
    ("reference_data", "expected"),
    [("imagenet", "unknown data set 'imagenet'"), ("mnist-5k", "same kind")],
)
def test_bad_reference_data(reference_data: str, expected: str, cli_case, expect_cli_error) -> None:
    cfg, out = cli_case(data={"name": "digits", "reference_data": reference_data, **SIZES})
    line = expect_cli_error("train", cfg, "--out", out)
    assert expected in line
    check_no_run(out)


def test_unknown_config_key(cli_case, expect_cli_error) -> None:
    cfg, out = cli_case(train={"stepz": 3})
    line = expect_cli_error("train", cfg, "--out", out)
    assert "train.stepz" in line
    check_no_run(out)


def test_unknown_key_given_with_set(cli_case, expect_cli_error) -> None:
    cfg, out = cli_case()
    line = expect_cli_error("train", cfg, "--out", out, "--set", "model.widht=3")
    assert "model.widht" in line
    check_no_run(out)


@pytest.mark.parametrize("where", ["file", "set"])
def test_negative_lambda(where: str, cli_case, expect_cli_error) -> None:
    if where == "file":
        cfg, out = cli_case(method={"name": "megan", "lam": -1})
        argv = ["train", cfg, "--out", out]
    else:
        cfg, out = cli_case()
        argv = ["train", cfg, "--out", out, "--set", "method.name=megan", "--set", "method.lam=-1"]
    line = expect_cli_error(*argv)
    assert "method.lam" in line
    check_no_run(out)


def test_missing_config_file(expect_cli_error, tmp_path: Path) -> None:
    out = tmp_path / "run"
    line = expect_cli_error("train", tmp_path / "nowhere.yaml", "--out", out)
    assert "nowhere.yaml" in line
    check_no_run(out)


def test_resume_on_a_run_from_other_data(
    gan_run_copy: Path, cli_case, expect_cli_error, write_npz, snapshot
) -> None:
    """A digits run resumed with 8x8 images from an npz file: refused, and left untouched."""
    path = write_npz("other.npz", n=400, side=8)
    cfg, _ = cli_case(data={"name": "npz", "path": str(path), "n_members": 64, "n_holdout": 64,
                            "n_reference": 128, "n_test": 64})  # fmt: skip
    before = snapshot(gan_run_copy)
    line = expect_cli_error("train", cfg, "--out", gan_run_copy, "--resume")
    assert "other data" in line
    assert snapshot(gan_run_copy) == before


def test_resume_where_there_is_no_run(cli_case, expect_cli_error) -> None:
    cfg, out = cli_case()
    line = expect_cli_error("train", cfg, "--out", out, "--resume")
    assert "no run" in line
    check_no_run(out)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "CFG", "--out", "OUT", "--bogus"],
        ["train", "CFG", "--out", "OUT", "--set"],
        ["sample", "OUT", "--n", "4", "--out", "x.npz", "--bogus"],
        ["sample", "OUT", "--out", "x.npz"],  # --n is required
        ["sample", "OUT", "--n", "four", "--out", "x.npz"],
        ["frobnicate"],
        [],
    ],
    ids=["train-option", "set-without-value", "sample-option", "sample-no-n", "sample-n-text",
         "command", "nothing"],  # fmt: skip
)
def test_bad_command_lines(argv: list[str], cli_case, expect_cli_error) -> None:
    cfg, out = cli_case()
    argv = [str(cfg) if a == "CFG" else str(out) if a == "OUT" else a for a in argv]
    expect_cli_error(*argv)
    check_no_run(out)


def test_sample_from_a_folder_that_is_not_a_run(expect_cli_error, tmp_path: Path) -> None:
    out = tmp_path / "x.npz"
    line = expect_cli_error("sample", tmp_path, "--n", 4, "--out", out)
    assert "not a run" in line
    assert not out.exists()


def test_sample_needs_a_positive_n(gan_run, expect_cli_error, tmp_path: Path) -> None:
    out = tmp_path / "x.npz"
    expect_cli_error("sample", gan_run[0], "--n", 0, "--out", out)
    assert not out.exists()


def test_sample_of_a_run_without_checkpoint(
    gan_run_copy: Path, expect_cli_error, tmp_path: Path
) -> None:
    shutil.rmtree(gan_run_copy / "checkpoints")
    out = tmp_path / "x.npz"
    line = expect_cli_error("sample", gan_run_copy, "--n", 4, "--out", out)
    assert "checkpoint" in line
    assert not out.exists()


@pytest.mark.parametrize("name", ["x.txt", "x", "x.npz.bak"])
def test_sample_into_a_file_of_no_known_kind(name: str, gan_run, expect_cli_error,
                                             tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / name
    line = expect_cli_error("sample", gan_run[0], "--n", 4, "--out", out)
    assert "write an .npz (the arrays)" in line
    assert not out.exists()


def test_sample_into_a_missing_folder(gan_run, run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("sample", gan_run[0], "--n", 4, "--out", tmp_path / "no" / "x.npz")
    assert code == 2 and err.startswith("ganguard: error:")


def test_train_out_is_a_file(cli_case, run_cli, tmp_path: Path) -> None:
    cfg, _ = cli_case()
    target = tmp_path / "a_file"
    target.write_text("keep me\n")
    code, _, err = run_cli("train", cfg, "--out", target)
    assert code == 2 and err.startswith("ganguard: error:")
    assert target.read_text() == "keep me\n"


def test_datasets_lists_every_data_set(run_cli) -> None:
    code, stdout, err = run_cli("datasets")
    assert code == 0, err
    listed = {line.split()[0] for line in stdout.splitlines()[1:] if line.strip()}
    expected = {"digits", "mnist-5k", "mnist", "fashion-mnist", "cifar10", "npz"}
    assert expected <= listed
    assert set(dataset_names()) <= listed
    digits = next(line for line in stdout.splitlines() if line.startswith("digits"))
    assert "1797" in digits and "yes" in digits


def test_end_to_end_error_through_the_installed_command(cli_case) -> None:
    """The real entry point in a fresh process: one line on stderr, nothing else, exit 2."""
    cfg, out = cli_case()
    exe = shutil.which("ganguard")
    command = [exe] if exe else [sys.executable, "-m", "ganguard.cli"]
    done = subprocess.run(
        [*command, "train", str(cfg), "--out", str(out), "--set", "method.name=megan",
         "--set", "method.lam=-1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganguard: error: "), lines
    assert "method.lam" in lines[0]
    assert done.stdout == ""
    check_no_run(out)
