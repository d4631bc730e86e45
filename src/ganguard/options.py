"""Every training method's options: the `method:` section of a config, validated by pydantic.

They live here, apart from the methods themselves, so that validating a config needs neither
torch nor Opacus. Each class registers itself under its `name` (see `MethodOptions`); the method
of the same name (`ganguard.methods.<name>`) trains with it. The defaults are the benchmark's best
settings (benchmarks/README.md); `docs/methods.md` gives the equations each option enters.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ganguard.errors import GanguardError

# Said of an option that was removed because no shipped config or committed result used it and the
# benchmark found it did not help.
UNUSED = "removed: no shipped config or benchmark result used it, and it did not help"


class MethodOptions(BaseModel):
    """Options every method has; each method subclasses this with its own keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    registry: ClassVar[dict[str, type[MethodOptions]]] = {}
    # old option name -> why it is gone (a config that still names it fails with that line)
    removed: ClassVar[dict[str, str]] = {}

    name: str = Field("gan", description="the method: gan, megan, mimgan, dpgan, privgan, pargan")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Registers each subclass that declares its own `name` (pydantic has built the fields
        by now, so the default of `name` can be read)."""
        super().__pydantic_init_subclass__(**kwargs)
        if "name" in cls.__annotations__:
            MethodOptions.registry[cls.model_fields["name"].default] = cls


def options_class(name: str) -> type[MethodOptions]:
    """The options class of the method called `name`."""
    try:
        return MethodOptions.registry[name]
    except KeyError:
        known = ", ".join(sorted(MethodOptions.registry))
        raise GanguardError(
            f"config key method.name: unknown method {name!r} (known: {known})"
        ) from None


def option_defaults(name: str) -> dict[str, Any]:
    """Each option of method `name` with its default (from the fields: DP-GAN's options cannot
    be built without a noise setting)."""
    fields = options_class(name).model_fields
    return {k: f.get_default(call_default_factory=True) for k, f in fields.items()}


class GANOptions(MethodOptions):
    name: Literal["gan"] = "gan"


class MEGANOptions(MethodOptions):
    """MEGAN: the discriminator keeps membership at maximum entropy given its output."""

    name: Literal["megan"] = "megan"
    removed: ClassVar[dict[str, str]] = {
        "reference_gradient": UNUSED,
        "unseen_reference_lam": UNUSED,
    }
    lam: float = Field(
        50.0, ge=0, description="λ, the weight of the entropy term in ℓ_D (0: the GAN)")
    mode: Literal["fano", "entropy"] = Field(
        "fano", description="fano: membership critic on what D computes; entropy: the entropy "
        "of D's own output (does not help: docs/methods.md)")  # fmt: skip
    entropy_on: Literal["members", "all"] = Field(
        "members", description="entropy mode: the records whose entropy is kept (all: members "
        "and generated)")  # fmt: skip
    critic_input: Literal["logit", "features"] = Field(
        "features", description="fano mode: what the membership critic reads of D")
    critic_hidden: int = Field(32, ge=1, description="hidden units of the membership critic")
    critic_lr: float = Field(1e-3, gt=0, description="the membership critic's learning rate")
    critic_steps: int = Field(1, ge=1, description="membership-critic updates per step")
    critic_batch: int | None = Field(
        256, ge=1, description="fano mode: members and reference records per step that the "
        "critic and the penalty see (members on a stream of their own); none: the step's own "
        "member batch and as many reference records")  # fmt: skip


class MIMGANOptions(MethodOptions):
    """MIMGAN: the generator also minimises what its samples tell about membership."""

    name: Literal["mimgan"] = "mimgan"
    removed: ClassVar[dict[str, str]] = {
        "penalty": UNUSED + "; the penalty is β · max(Î, 0)",
        "mine_ema": UNUSED,
        "n_critic_batch": UNUSED + "; the leakage critic sees train.batch_size records",
        "discriminator_critic_batch": "renamed to method.critic_batch, the name MEGAN uses",
    }
    # 0.1: with a public R, a larger β let the white-box attack find the members again (with R
    # cut from the private data set β = 1 and cutout did better: mnist-5k-mimgan-cutout.yaml)
    beta: float = Field(
        0.1, ge=0, description="β, the weight of the leakage penalty in ℓ_G (0: the GAN)")
    tau: float = Field(
        0.05, gt=0, description="soft-min temperature τ, on per-feature mean squared distances")
    estimator: Literal["dv", "nwj"] = Field(
        "dv", description="the bound Î: Donsker–Varadhan or Nguyen–Wainwright–Jordan")
    critic_steps: int = Field(1, ge=1, description="leakage-critic ascent steps per step")
    features: Literal["pixels", "discriminator"] = Field(
        "pixels", description="φ, where distances are measured: the data, or D's features")
    critic_hidden: int = Field(32, ge=1, description="hidden units of the leakage critic")
    critic_lr: float = Field(1e-3, gt=0, description="the leakage critic's learning rate")
    discriminator_lam: float = Field(
        50.0, ge=0, description="λ_D of MEGAN's fano term on the discriminator (critic on D's "
        "features): β acts on the samples only, not on a released D; 0: off")  # fmt: skip
    critic_batch: int | None = Field(
        256, ge=1, description="MEGAN's critic_batch for that term (none: the step's own member "
        "batch)")  # fmt: skip


class DPGANOptions(MethodOptions):
    """DP-GAN: DP-SGD on the discriminator (Opacus)."""

    name: Literal["dpgan"] = "dpgan"
    target_epsilon: float | None = Field(
        None, gt=0, description="the privacy budget ε: the noise multiplier is chosen to spend "
        "it in train.steps (set this or noise_multiplier)")  # fmt: skip
    noise_multiplier: float | None = Field(
        None, ge=0, description="a fixed noise multiplier σ instead (0: no privacy at all)")
    delta: float | None = Field(None, gt=0, lt=1, description="δ; none: 1 / (10 n), n = |S|")
    max_grad_norm: float = Field(1.0, gt=0, description="per-sample clipping bound C")
    d_steps: int = Field(
        1, ge=1, description="DP-SGD steps of D (each on a Poisson batch of its own, each "
        "counted by the accountant) per step of G; target_epsilon is spread over "
        "train.steps x d_steps")  # fmt: skip
    accountant: Literal["rdp", "prv"] = Field("rdp", description="Opacus' privacy accountant")
    clipping: Literal["ghost", "per_sample"] = Field(
        "ghost", description="how each record's gradient norm is found: ghost (Opacus's fast "
        "gradient / ghost clipping: norms from activations and output gradients, a second "
        "backward for the clipped sum, no per-sample gradient held) or per_sample (every "
        "per-sample gradient materialised, then clipped); the same clipped sum and ε")  # fmt: skip

    @model_validator(mode="after")
    def _one_noise_source(self) -> DPGANOptions:
        # Our own error rather than pydantic's: a model-level error would name no key.
        both = self.target_epsilon is not None and self.noise_multiplier is not None
        neither = self.target_epsilon is None and self.noise_multiplier is None
        if both or neither:
            key = "noise_multiplier" if both else "target_epsilon"
            raise GanguardError(
                f"config key method.{key}: set exactly one of method.target_epsilon (a privacy "
                f"budget) and method.noise_multiplier (a fixed noise level); "
                f"{'both are' if both else 'neither is'} set"
            )
        return self


class PrivGANOptions(MethodOptions):
    """PrivGAN: N generator–discriminator pairs on disjoint parts of S, and a privacy
    discriminator that each generator learns to fool."""

    name: Literal["privgan"] = "privgan"
    removed: ClassVar[dict[str, str]] = {
        "privacy_start": UNUSED + "; the privacy term acts from the first step",
        "dp_lr": UNUSED + "; D_p learns at train.lr_d",
        "privacy_loss": UNUSED + "; the non-saturating form is used",
    }
    n_pairs: int = Field(2, ge=2, description="N generator–discriminator pairs, and parts of S")
    privacy_ratio: float = Field(
        1.0, ge=0, description="weight of the privacy discriminator's term in each generator's "
        "loss")  # fmt: skip


class PARGANOptions(MethodOptions):
    """PAR-GAN: one generator against k discriminators on disjoint parts of S."""

    name: Literal["pargan"] = "pargan"
    k: int = Field(5, ge=2, description="discriminators, and parts of S")
