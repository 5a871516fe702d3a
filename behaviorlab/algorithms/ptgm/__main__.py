"""`python -m behaviorlab.algorithms.ptgm {bc,goals,prior,skills} …`: PTGM's offline stages.

Each stage reads the previous one's artifact by path and writes its own (a .pt or .npz plus a
.json report next to it); `experiments/ptgm/babyai_pipeline.sh` chains them. `skills` is the
continuous-skill (SPiRL-style VAE) baseline's stage; it reads only the dataset. `--ray` runs the
goals and prior stages' passes over the dataset as Ray Data jobs.
"""

from __future__ import annotations

import argparse
import sys


def _hidden(text: str) -> tuple[int, ...]:
    return tuple(int(width) for width in text.split(","))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m behaviorlab.algorithms.ptgm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True)

    bc = sub.add_parser("bc", help="low-level goal-conditioned policy π_L by behaviour cloning with hindsight goals")
    bc.add_argument("dataset")
    bc.add_argument("out", help="π_L file to write (.pt)")
    bc.add_argument("--k-min", type=int, default=1, help="shortest goal horizon, steps (default 1)")
    bc.add_argument("--k-max", type=int, default=10, help="longest goal horizon, steps (default 10)")
    bc.add_argument("--goal-dropout", type=float, default=0.1, help="probability of training without the goal")
    bc.add_argument("--goal-embedding", default="babyai_view", help="babyai_view (BabyAI's 7×7×3 view), crafter_state (Crafter's view and inventory) or observation")

    goals = sub.add_parser("goals", help="KMeans codebook over relabelled goals")
    goals.add_argument("dataset")
    goals.add_argument("low_level", help="π_L file from the bc stage (its k range and goal embedding are reused)")
    goals.add_argument("out", help="codebook file to write (.npz)")
    goals.add_argument("--num-codes", type=int, default=16)
    goals.add_argument("--num-goals", type=int, default=20_000, help="goals sampled for clustering")

    prior = sub.add_parser("prior", help="goal prior π_p(code|s): classifier of the nearest code to the relabelled goal")
    prior.add_argument("dataset")
    prior.add_argument("codebook", help="codebook .npz from the goals stage")
    prior.add_argument("out", help="π_p file to write (.pt)")

    skills = sub.add_parser("skills", help="continuous-skill baseline: VAE over k-step action segments → skill "
                                           "decoder π_L(a|s,z) (OUT), encoder and learned prior p(z|s) next to it")
    skills.add_argument("dataset")
    skills.add_argument("out", help="decoder file to write (.pt); OUT_encoder.pt, OUT_prior.pt and OUT.json beside it")
    skills.add_argument("--skill-length", type=int, default=10, help="k, actions per segment (default 10)")
    skills.add_argument("--latent-dim", type=int, default=8, help="size of z (default 8)")
    skills.add_argument("--beta", type=float, default=0.1, help="weight of KL(q(z|·) ‖ N(0, I)) (default 0.1)")

    for stage in (prior, skills):
        stage.add_argument("--validation-fraction", type=float, default=0.1,
                           help="episodes held out for the validation metrics")
    for stage in (bc, prior, skills):
        stage.add_argument("--epochs", type=int, default=20)
        stage.add_argument("--batch-size", type=int, default=256)
        stage.add_argument("--lr", type=float, default=1e-3)
        stage.add_argument("--hidden", type=_hidden, default=(256, 256), help="MLP widths, e.g. 256,256")
    for stage in (bc, goals, prior, skills):
        stage.add_argument("--seed", type=int, default=0)
    for stage in (goals, prior):
        stage.add_argument("--ray", action="store_true",
                           help="read the dataset in a Ray Data job (a local Ray, or the cluster under `ray job submit`)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from behaviorlab.algorithms.ptgm import pretrain
    from behaviorlab.envs.datasets import DatasetError

    args = build_parser().parse_args(argv)
    try:
        if args.stage == "bc":
            pretrain.train_low_level(args.dataset, args.out, k_min=args.k_min, k_max=args.k_max,
                                     goal_dropout=args.goal_dropout, goal_embedding_kind=args.goal_embedding,
                                     hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                     seed=args.seed)
        elif args.stage == "goals":
            pretrain.fit_goals(args.dataset, args.low_level, args.out, num_codes=args.num_codes,
                               num_goals=args.num_goals, seed=args.seed, use_ray=args.ray)
        elif args.stage == "skills":
            pretrain.train_skills(args.dataset, args.out, skill_length=args.skill_length, latent_dim=args.latent_dim,
                                  beta=args.beta, hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size,
                                  lr=args.lr, validation_fraction=args.validation_fraction, seed=args.seed)
        else:
            pretrain.train_prior(args.dataset, args.codebook, args.out, hidden=args.hidden, epochs=args.epochs,
                                 batch_size=args.batch_size, lr=args.lr,
                                 validation_fraction=args.validation_fraction, seed=args.seed, use_ray=args.ray)
    except (DatasetError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
