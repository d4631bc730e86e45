"""PacGAN packing (`model.pac`): D reads `pac` records as one input; the white-box score of a
record packs it with copies of itself; every method but DP-GAN trains with it; and the settings
it cannot serve are one line and exit code 2."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from conftest import TINY

from ganguard.config import config_from_dict
from ganguard.nets import build_discriminator
from ganguard.nets.mlp import MLPDiscriminator, PackedDiscriminator, record_logits
from ganguard.train import train


def test_a_pack_is_the_inner_mlp_on_its_records_side_by_side() -> None:
    cfg = config_from_dict({**TINY, "model": {**TINY["model"], "pac": 3}}).model
    torch.manual_seed(0)
    d = build_discriminator(cfg, (1, 2, 4)).eval()  # eval: no power iteration between calls
    assert isinstance(d, PackedDiscriminator) and d.pac == 3
    x = torch.randn(6, 1, 2, 4)
    by_hand = d.inner(torch.cat([x[0:3].reshape(-1), x[3:6].reshape(-1)]).view(2, 24))
    torch.testing.assert_close(d(x), by_hand)  # records 0-2 are one input, 3-5 the next
    alone = d.inner(x[4].reshape(1, -1).repeat(1, 3))  # record 4 beside two copies of itself
    torch.testing.assert_close(record_logits(d, x)[4:5], alone)
    assert record_logits(d, x).shape == (6,)
    with pytest.raises(ValueError, match="multiples of 3"):
        d(x[:4])
    unpacked = config_from_dict(TINY).model  # pac 1, the default: the plain MLP
    assert type(build_discriminator(unpacked, (1, 2, 4))) is MLPDiscriminator


@pytest.mark.parametrize("name", ["gan", "megan", "mimgan", "privgan", "pargan"])
def test_every_method_but_dpgan_trains_and_is_audited_with_packing(name: str,
                                                                   tmp_path: Path) -> None:
    from ganguard import audit

    config = copy.deepcopy(TINY)
    config["model"]["pac"] = 4
    config["method"] = {"name": name, **({"critic_batch": 32} if name in ("megan", "mimgan")
                                         else {})}  # fmt: skip
    run = train(config, tmp_path / "run")
    assert run.step == 20
    assert isinstance(run.method.discriminator if name != "pargan" and name != "privgan"
                      else run.method.discriminators[0], PackedDiscriminator)  # fmt: skip
    scores = run.method.score(torch.zeros(7, *run.method.shape))  # 7: not a multiple of 4
    assert scores.shape[0] == 7  # one white-box score per record, each read alone
    result = audit(tmp_path / "run", attacks="logan_wb", k=100, plots=False)
    assert set(result.attacks) == {"logan_wb"}


@pytest.mark.parametrize("change, message", [
    ({"train": {"batch_size": 18}}, "must be a multiple of it (4)"),
    ({"method": {"name": "megan", "critic_batch": 30}}, "method.critic_batch (30) must be a"),
    ({"method": {"name": "dpgan", "noise_multiplier": 1.0}, "model": {"spectral_norm": False}},
     "gradients are per pack"),
    ({"model": {"conditional": True}}, "packing is for unconditional runs"),
])  # fmt: skip
def test_what_packing_cannot_serve_is_one_line_and_exit_2(change: dict, message: str,
                                                          tmp_path: Path, run_cli,
                                                          write_config) -> None:  # noqa: ANN001
    config = copy.deepcopy(TINY)
    config["model"]["pac"] = 4
    for key, value in change.items():
        config[key] = {**config.get(key, {}), **value}
    code, _, err = run_cli("train", write_config(config), "--out", tmp_path / "run")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()
