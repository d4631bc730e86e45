"""LiRA for generators (Carlini et al. 2022; shadow-model attacks on synthetic data, Stadler et
al. 2022): per-record calibration with shadow models trained with the target's recipe.

A statistic of the target model on a candidate (the discriminator's logit, the distance to the
nearest sample, the DOMIAS ratio) says little by itself: easy records score high whether or not
they were members. The shadows (`ganguard.shadows`) show how the same statistic varies with the
record's membership: fit a Gaussian to its values over the shadows that trained on the record
(IN) and one over those that did not (OUT), and score the target's value by the likelihood ratio
ln N(s; μ_in, σ_in²) − ln N(s; μ_out, σ_out²) (online). Offline, with OUT shadows only, the score
is how far into the OUT distribution's upper tail the target's value lies, −ln P(Z ≥ s).

The means are per record; the standard deviations pooled over the records (`variance: global`,
Carlini et al.'s choice with few shadows) or per record (`per_record`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from scipy import stats

from ganguard.attacks.base import (
    DISCRIMINATOR,
    REFERENCE,
    SAMPLES,
    SHADOWS,
    Attack,
    AttackSettings,
    ThreatModel,
)
from ganguard.attacks.density import DOMIAS
from ganguard.attacks.distance import GanLeaksFBB
from ganguard.attacks.logan import LoganWB
from ganguard.errors import GanguardError

_TINY = 1e-12


class LiRASettings(AttackSettings):
    variance: Literal["global", "per_record"] = "global"


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    count = mask.sum(axis=0)
    return np.where(count > 0, (values * mask).sum(axis=0) / np.maximum(count, 1), np.nan)


def _spread(values: np.ndarray, mask: np.ndarray, mean: np.ndarray, per_record: bool) -> np.ndarray:
    """The standard deviation of the masked values around their record's mean: pooled over all
    records, or each record's own (falling back to the pooled one below 2 values)."""
    residual = np.where(mask, values - np.nan_to_num(mean), 0.0)
    pooled = np.sqrt((residual**2).sum() / max(int(mask.sum()) - 1, 1))
    pooled = max(float(pooled), 1e-6)
    if not per_record:
        return np.full(values.shape[1], pooled)
    count = mask.sum(axis=0)
    own = np.sqrt((residual**2).sum(axis=0) / np.maximum(count - 1, 1))
    return np.where(count >= 2, np.maximum(own, 1e-6), pooled)


def likelihood_ratio(target: np.ndarray, shadow: np.ndarray, inside: np.ndarray,
                     per_record: bool = False) -> np.ndarray:  # fmt: skip
    """LiRA's score of each record from its target statistic (n,), its statistics under the k
    shadows (k, n) and which shadows trained on it (k, n) bool. A record with IN and OUT shadows
    gets the online likelihood ratio; one with OUT shadows only, the offline tail score."""
    outside = ~inside
    mu_in, mu_out = _masked_mean(shadow, inside), _masked_mean(shadow, outside)
    sd_in = _spread(shadow, inside, mu_in, per_record)
    sd_out = _spread(shadow, outside, mu_out, per_record)
    online = stats.norm.logpdf(target, mu_in, sd_in) - stats.norm.logpdf(target, mu_out, sd_out)
    offline = -stats.norm.logsf((target - mu_out) / sd_out)
    has_in = inside.any(axis=0)
    return np.where(has_in, online, offline)


class LiRA(Attack, register=False):
    """A LiRA attack on the statistic that `statistic_attack`'s score gives."""

    statistic_attack: ClassVar[type[Attack]]
    Settings = LiRASettings

    def statistic(self, view: ThreatModel, candidates: np.ndarray) -> np.ndarray:
        return np.asarray(self.statistic_attack().fit(view).score(candidates), dtype=np.float64)

    def fit(self, threat: ThreatModel) -> LiRA:
        super().fit(threat)
        if threat.shadows.count < 2:
            raise GanguardError(f"attack {self.name} needs at least 2 shadow models")
        return self

    def score(self, candidates: np.ndarray) -> np.ndarray:
        self.fitted("scoring")
        shadows = self.threat.shadows
        target = self.statistic(self.threat, candidates)
        values = np.stack([self.statistic(shadows.view(i), candidates)
                           for i in range(shadows.count)])  # fmt: skip
        index = shadows.index_of(candidates)
        inside = np.zeros(values.shape, dtype=bool)
        known = index >= 0
        inside[:, known] = shadows.inclusion[:, index[known]]
        self.settings.update(shadows=shadows.count, shadow_mode=shadows.mode,
                             candidates_in_population=int(known.sum()))  # fmt: skip
        return likelihood_ratio(target, values, inside, self.settings["variance"] == "per_record")


class LiRAWB(LiRA):
    name: ClassVar[str] = "lira_wb"
    needs: ClassVar[frozenset[str]] = frozenset({SHADOWS, DISCRIMINATOR})
    description: ClassVar[str] = "LiRA on the discriminator's logit, calibrated by shadow models"
    statistic_attack = LoganWB


class LiRAFBB(LiRA):
    name: ClassVar[str] = "lira_fbb"
    needs: ClassVar[frozenset[str]] = frozenset({SHADOWS, SAMPLES})
    description: ClassVar[str] = (
        "LiRA on the distance to the nearest generated sample (−ln d), calibrated by shadow models"
    )
    statistic_attack = GanLeaksFBB

    def statistic(self, view: ThreatModel, candidates: np.ndarray) -> np.ndarray:
        # GAN-Leaks gives −d²; −ln d is closer to Gaussian across models
        return -0.5 * np.log(-super().statistic(view, candidates) + _TINY)


class LiRADOMIAS(LiRA):
    name: ClassVar[str] = "lira_domias"
    needs: ClassVar[frozenset[str]] = frozenset({SHADOWS, SAMPLES, REFERENCE})
    description: ClassVar[str] = "LiRA on the DOMIAS density ratio, calibrated by shadow models"
    statistic_attack = DOMIAS
