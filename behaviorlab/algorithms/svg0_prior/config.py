"""SVG0Prior configuration. Defaults follow Acme's svg0_prior agent (the paper's own values were
not published) scaled to one CPU learner; see docs in README.md."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from typing_extensions import Self

from behaviorlab.algorithms.offpolicy import SegmentConfigMixin

MODEL_FIELDS = ("policy_keys", "critic_keys", "prior_keys", "policy_hiddens", "critic_hiddens", "prior_hiddens",
                "min_std", "max_std", "action_samples", "prior_type", "prior_lstm_size", "latent_dim",
                "shared_lower_level", "hold_steps", "lower_keys", "lower_hiddens", "critic_sees_latent")


class SVG0PriorConfig(SegmentConfigMixin, AlgorithmConfig):
    """Fields (set through `.training(...)` or a spec's `config:`):

    - `kl_weight` (α, default 0.01): weight of KL(π ‖ π0) in the reward; 0 gives plain SVG(0) with
      Retrace (the prior is still distilled, so it can be transferred, but does not shape π).
    - `entropy_coeff` (β, default 1e-3), `retrace_lambda` (λ, default 1).
    - `policy_keys`, `critic_keys`, `prior_keys` (lists of Dict-observation keys, default None =
      all): information asymmetry, e.g. the prior sees only `["proprio"]`.
    - `policy_hiddens` (200, 100), `critic_hiddens` (400, 300), `prior_hiddens` (200, 100), `min_std` (0.1), `max_std` (1.0; actions are in
      RLlib's normalised units, where [-1, 1] spans the env's action range),
      `action_samples` (S = 10 samples of π for V(x) and the SVG(0) actor loss).
    - `prior_type` ("mlp", or "lstm": a prior with memory, run over each replayed segment;
      `prior_lstm_size` 128). `prior_burn_in` (L, default 0): an LSTM prior first reads the L steps
      of the episode before each replayed segment (R2D2's burn-in, with gradients), so it can
      remember further back than a segment; with 0 it starts every segment from a zero state.
    - `rollout_fragment_length` (T, default 10): replayed segment length.
    - `replay_buffer_config` (EpisodeReplayBuffer, 1e6 env steps), `replay_start` (1000 env steps),
      `replay_batch_segments` (32 segments per update), `samples_per_insert` (32: replayed env steps
      per new env step, which sets the number of updates per iteration), `checkpoint_replay_buffer`
      (True).
    - `target_update_period` (100 learner updates between hard copies into the target networks).
    - `lr` (1e-4, Adam), `grad_clip` (40, global norm), `reward_scale` (1).
    - `prior_checkpoint` (None): load the prior (see `transfer_lower_level`) from another SVG0Prior
      run: a trial directory, one of its checkpoint_* directories, or the module directory. `~` and
      `$VARIABLES` are expanded, `{seed}` becomes this run's seed, and a glob pattern must match one
      directory, e.g. `$RESULTS/nav-lstm/trial_*_seed={seed}` gives every seed its own prior.
    - `freeze_prior` (False): keep the prior's weights fixed, e.g. a loaded prior on a new task.

    Hierarchical (latent-variable) policy and prior, π(a|x) = ∫ π^H(z|x) π^L(a|z, x) dz and the same
    for π0, with the KL replaced by its bound KL(π^H ‖ π0^H) + E_z[KL(π^L ‖ π0^L)]:
    - `hierarchical` (False): turn it on. π^H reads `policy_keys`, π0^H `prior_keys` (and follows
      `prior_type`/`prior_hiddens`), the critic Q(x, a, z) `critic_keys` (see `critic_sees_latent`).
    - `latent_dim` (8): size of the diagonal Gaussian z (its std bounded by min_std/max_std too).
    - `shared_lower_level` (True): one lower level is both π^L and π0^L, so only the high levels'
      KL remains; False gives the prior its own π0^L and the full bound.
    - `lower_keys` (None = prior_keys; must be among them), `lower_hiddens` ((200, 100)).
    - `hold_steps` (k = 1): z is drawn afresh every k steps and held in between (the critic then
      also sees the countdown).
    - `critic_sees_latent` (True): the critic is Q(x, a, z), as the design has it. With z drawn
      afresh every step (hold_steps 1) z carries nothing into the future that a does not, and False
      gives the exact Q(x, a). Use it when π^H learns through a frozen lower level: a critic that
      can explain the value through z (detached in the actor loss) leaves π^H almost no gradient,
      and transfer on navigation took 55k env steps instead of ≈ 9k (docs/benchmarks.md).
    - `freeze_lower_level` (False): keep π^L fixed (with a shared lower level this is π0^L too).
    - `transfer_lower_level` (True): with `prior_checkpoint`, load π^L as well as the prior.
    """

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.svg0_prior.algorithm import SVG0Prior

        super().__init__(algo_class=algo_class or SVG0Prior)
        self.rollout_fragment_length = 10
        self.min_sample_timesteps_per_iteration = 1000
        self.batch_mode = "truncate_episodes"
        self.gamma = 0.99
        self.lr = 1e-4
        self.grad_clip = 40.0
        self.grad_clip_by = "global_norm"
        self.kl_weight = 0.01
        self.entropy_coeff = 1e-3
        self.retrace_lambda = 1.0
        self.replay_buffer_config = {"type": "EpisodeReplayBuffer", "capacity": 1_000_000}
        self.replay_start = 1000
        self.replay_batch_segments = 32
        self.samples_per_insert = 32.0
        self.checkpoint_replay_buffer = True
        self.target_update_period = 100
        self.reward_scale = 1.0
        self.freeze_prior = False
        self.prior_checkpoint = None
        self.policy_keys = None
        self.critic_keys = None
        self.prior_keys = None
        self.policy_hiddens = [200, 100]
        self.critic_hiddens = [400, 300]
        self.prior_hiddens = [200, 100]
        self.min_std = 0.1
        self.max_std = 1.0
        self.action_samples = 10
        self.prior_type = "mlp"
        self.prior_lstm_size = 128
        self.prior_burn_in = 0
        self.hierarchical = False
        self.latent_dim = 8
        self.shared_lower_level = True
        self.lower_keys = None
        self.lower_hiddens = [200, 100]
        self.hold_steps = 1
        self.critic_sees_latent = True
        self.freeze_lower_level = False
        self.transfer_lower_level = True

    def training(
        self,
        *,
        kl_weight: float = NotProvided,
        entropy_coeff: float = NotProvided,
        retrace_lambda: float = NotProvided,
        replay_buffer_config: dict[str, Any] = NotProvided,
        replay_start: int = NotProvided,
        replay_batch_segments: int = NotProvided,
        samples_per_insert: float = NotProvided,
        checkpoint_replay_buffer: bool = NotProvided,
        target_update_period: int = NotProvided,
        reward_scale: float = NotProvided,
        freeze_prior: bool = NotProvided,
        prior_checkpoint: str = NotProvided,
        policy_keys: list[str] = NotProvided,
        critic_keys: list[str] = NotProvided,
        prior_keys: list[str] = NotProvided,
        policy_hiddens: list[int] = NotProvided,
        critic_hiddens: list[int] = NotProvided,
        prior_hiddens: list[int] = NotProvided,
        min_std: float = NotProvided,
        max_std: float = NotProvided,
        action_samples: int = NotProvided,
        prior_type: str = NotProvided,
        prior_lstm_size: int = NotProvided,
        prior_burn_in: int = NotProvided,
        hierarchical: bool = NotProvided,
        latent_dim: int = NotProvided,
        shared_lower_level: bool = NotProvided,
        lower_keys: list[str] = NotProvided,
        lower_hiddens: list[int] = NotProvided,
        hold_steps: int = NotProvided,
        critic_sees_latent: bool = NotProvided,
        freeze_lower_level: bool = NotProvided,
        transfer_lower_level: bool = NotProvided,
        **kwargs,
    ) -> Self:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def validate(self) -> None:
        super().validate()
        checks = [
            (self.kl_weight >= 0, "kl_weight must be >= 0 (0 = plain SVG(0))"),
            (self.entropy_coeff >= 0, "entropy_coeff must be >= 0"),
            (0 <= self.retrace_lambda <= 1, "retrace_lambda must be in [0, 1]"),
            (self.samples_per_insert > 0, "samples_per_insert must be > 0"),
            (self.replay_batch_segments >= 1, "replay_batch_segments must be >= 1"),
            (self.target_update_period >= 1, "target_update_period must be >= 1"),
            (0 < self.min_std < self.max_std, "need 0 < min_std < max_std"),
            (self.normalize_actions, "SVG0Prior's policy acts in normalised units: keep normalize_actions=True"),
            (self.action_samples >= 1, "action_samples must be >= 1"),
            (self.prior_type in ("mlp", "lstm"), "prior_type must be 'mlp' or 'lstm'"),
            (self.prior_burn_in >= 0, "prior_burn_in must be >= 0 (0 = each segment from a zero state)"),
            (self.prior_burn_in == 0 or self.prior_type == "lstm",
             "prior_burn_in needs prior_type='lstm' (only a recurrent prior has a state to warm)"),
            (self.reward_scale > 0, "reward_scale must be > 0"),
            (self.latent_dim >= 1, "latent_dim must be >= 1"),
            (self.hold_steps >= 1, "hold_steps must be >= 1 (1 = a fresh z every step)"),
            (self.critic_sees_latent or self.hold_steps == 1,
             "critic_sees_latent=False needs hold_steps 1 (a held z is part of the state the critic values)"),
            (self.hierarchical or self.critic_sees_latent,
             "critic_sees_latent=False needs hierarchical=True (only the hierarchical policy has a latent z)"),
            (self.hierarchical or not self.freeze_lower_level,
             "freeze_lower_level needs hierarchical=True (only the hierarchical policy has a lower level)"),
        ]
        self._raise_failed(checks)

    def missing_inputs(self) -> dict[str, tuple[str, str]]:
        """Inputs another run makes, as {field: (problem, fix)} for each that is missing. `behaviorlab
        run` checks them, `validate` does not: a transfer spec is valid before its pre-training run."""
        from behaviorlab.algorithms.svg0_prior.learner import module_checkpoint_dir

        if not self.prior_checkpoint:
            return {}
        fix = ("give a trial directory or its checkpoint_* directory of a finished SVG0Prior run (run the "
               "pre-training spec first, e.g. experiments/svg0_prior/pointmass_nav.yaml)")
        try:
            found = module_checkpoint_dir(self.prior_checkpoint, self.seed)
        except ValueError as error:
            return {"prior_checkpoint": (str(error).removeprefix("prior_checkpoint "), fix)}
        if not found.is_dir():
            return {"prior_checkpoint": (f"{found} is not a checkpoint directory", fix)}
        return {}

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        if self.hierarchical:
            from behaviorlab.algorithms.svg0_prior.hierarchical_module import HierarchicalSVG0PriorTorchRLModule

            return RLModuleSpec(module_class=HierarchicalSVG0PriorTorchRLModule)
        from behaviorlab.algorithms.svg0_prior.module import SVG0PriorTorchRLModule

        return RLModuleSpec(module_class=SVG0PriorTorchRLModule)

    def get_default_learner_class(self):
        from behaviorlab.algorithms.svg0_prior.learner import SVG0PriorTorchLearner

        return SVG0PriorTorchLearner

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {name: getattr(self, name) for name in MODEL_FIELDS}
