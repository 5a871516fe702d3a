"""MineCLIP's video encoder: loading checkpoints laid out as the released attn.pth / avg.pth (small
networks, same parameter names), the 16-frame windows per step, the preprocessing, clear errors,
and `data embed` on a converted VPT dataset."""

import numpy as np
import pytest
import torch

from behaviorlab.envs.datasets import TrajectoryReader
from behaviorlab.envs.datasets.embed import embed_dataset
from behaviorlab.envs.datasets.mineclip import MineCLIPError, load_mineclip
from behaviorlab.envs.datasets.vpt import convert_vpt
from tests.unit.test_vpt import episodes_by_source, recordings  # noqa: F401  (recordings is a fixture)

WIDTH, LAYERS, PATCH, DIM = 64, 2, 32, 48  # ViT-B/16 is 768, 12, 16, 512
TOKENS = (160 // PATCH) * (256 // PATCH) + 1  # class token + a 5×8 grid of patches
VIT = "model.image_encoder."
TEMPORAL = "model.temporal_encoder.attn.model."


def released_layout(pool: str = "attn", seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the parameter names of MineCLIP's checkpoints (x-transformers 0.27.1 names
    for the temporal encoder: 8 heads of 64, GLU feed-forward of 4·dim), random values."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.05):
        return torch.randn(*shape, generator=g) * scale

    state = {f"{VIT}cls_token": rand(WIDTH), f"{VIT}pos_embed": rand(TOKENS, WIDTH), f"{VIT}projection": rand(WIDTH, DIM),
             f"{VIT}conv1.weight": rand(WIDTH, 3, PATCH, PATCH), f"{VIT}ln_pre.weight": 1 + rand(WIDTH),
             f"{VIT}ln_pre.bias": rand(WIDTH), f"{VIT}ln_post.weight": 1 + rand(WIDTH), f"{VIT}ln_post.bias": rand(WIDTH)}
    for i in range(LAYERS):
        block = f"{VIT}blocks.{i}."
        state |= {f"{block}attn.in_proj_weight": rand(3 * WIDTH, WIDTH), f"{block}attn.in_proj_bias": rand(3 * WIDTH),
                  f"{block}attn.out_proj.weight": rand(WIDTH, WIDTH), f"{block}attn.out_proj.bias": rand(WIDTH),
                  f"{block}ln_1.weight": 1 + rand(WIDTH), f"{block}ln_1.bias": rand(WIDTH),
                  f"{block}ln_2.weight": 1 + rand(WIDTH), f"{block}ln_2.bias": rand(WIDTH),
                  f"{block}mlp.c_fc.weight": rand(4 * WIDTH, WIDTH), f"{block}mlp.c_fc.bias": rand(4 * WIDTH),
                  f"{block}mlp.c_proj.weight": rand(WIDTH, 4 * WIDTH), f"{block}mlp.c_proj.bias": rand(WIDTH)}
    if pool == "attn":
        layers = f"{TEMPORAL}attn_layers.layers."
        state |= {f"{TEMPORAL}pos_emb.emb.weight": rand(32, DIM), f"{TEMPORAL}norm.weight": 1 + rand(DIM),
                  f"{TEMPORAL}norm.bias": rand(DIM)}
        for i in range(4):
            state |= {f"{layers}{i}.0.0.weight": 1 + rand(DIM), f"{layers}{i}.0.0.bias": rand(DIM)}
        for i in (0, 2):
            state |= {f"{layers}{i}.1.to_{name}.weight": rand(512, DIM) for name in "qkv"}
            state[f"{layers}{i}.1.to_out.weight"] = rand(DIM, 512)
        for i in (1, 3):
            state |= {f"{layers}{i}.1.net.0.proj.weight": rand(8 * DIM, DIM), f"{layers}{i}.1.net.0.proj.bias": rand(8 * DIM),
                      f"{layers}{i}.1.net.3.weight": rand(DIM, 4 * DIM), f"{layers}{i}.1.net.3.bias": rand(DIM)}
    # the rest of the released file (text side, reward head) is not the video encoder's
    state |= {"model.clip_model.logit_scale": torch.tensor(4.6), "model.reward_head.video_residual_weight": torch.tensor(4.0)}
    return state


@pytest.fixture
def attn_pth(tmp_path):
    path = tmp_path / "attn.pth"
    torch.save({"state_dict": released_layout("attn")}, path)
    return path


def frames(count: int, size=(160, 256), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *size, 3), dtype=np.uint8)


def test_a_checkpoint_laid_out_as_attn_pth_loads_every_parameter_in_place(attn_pth):
    state = released_layout("attn")
    encoder = load_mineclip(attn_pth)
    assert (encoder.shape.pool, encoder.shape.embed_dim, encoder.shape.layers) == ("attn", DIM, LAYERS)
    assert not encoder.training
    vit, temporal = encoder.image_encoder, encoder.temporal_encoder
    pairs = [(vit.blocks[1].attn.in_proj_weight, f"{VIT}blocks.1.attn.in_proj_weight"),
             (vit.blocks[0].mlp.c_proj.bias, f"{VIT}blocks.0.mlp.c_proj.bias"), (vit.pos_embed, f"{VIT}pos_embed"),
             (temporal.pos_emb, f"{TEMPORAL}pos_emb.emb.weight"),
             (temporal.layers[2].norm.weight, f"{TEMPORAL}attn_layers.layers.2.0.0.weight"),
             (temporal.layers[2].to_out.weight, f"{TEMPORAL}attn_layers.layers.2.1.to_out.weight"),
             (temporal.layers[3].proj_in.weight, f"{TEMPORAL}attn_layers.layers.3.1.net.0.proj.weight"),
             (temporal.layers[1].proj_out.bias, f"{TEMPORAL}attn_layers.layers.1.1.net.3.bias"),
             (temporal.norm.bias, f"{TEMPORAL}norm.bias")]
    for parameter, key in pairs:
        assert torch.equal(parameter.detach(), state[key]), key


def test_the_vit_also_loads_from_the_clip_models_copy(tmp_path):
    state = {key.replace(VIT, "model.clip_model.vision_model."): value for key, value in released_layout("avg").items()}
    torch.save({"state_dict": state}, tmp_path / "clip_only.pth")
    encoder = load_mineclip(tmp_path / "clip_only.pth")
    assert torch.equal(encoder.image_encoder.projection.detach(), state["model.clip_model.vision_model.projection"])


def test_each_step_is_embedded_with_the_clip_of_its_last_16_frames(attn_pth):
    encoder = load_mineclip(attn_pth)
    clip = torch.as_tensor(frames(20))
    embeddings = encoder.embed_episode(clip.numpy(), batch_size=7)
    assert embeddings.shape == (20, DIM) and embeddings.dtype == np.float32
    with torch.no_grad():
        np.testing.assert_allclose(embeddings[19], encoder(clip[None, 4:20])[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(embeddings[15], encoder(clip[None, 0:16])[0].numpy(), atol=1e-5)
        # before the episode's first frame the window holds zero features (PTGM's padding)
        first = torch.cat([torch.zeros(15, DIM), encoder.frame_features(clip[:1])])
        np.testing.assert_allclose(embeddings[0], encoder.pool(first[None])[0].numpy(), atol=1e-5)
    assert not np.allclose(embeddings[0], embeddings[1])


def test_avg_pooling_is_the_mean_of_the_frame_features(tmp_path):
    path = tmp_path / "avg.pth"
    torch.save({"state_dict": released_layout("avg")}, path)
    encoder = load_mineclip(path)
    assert encoder.shape.pool == "avg" and encoder.temporal_encoder is None
    clip = frames(17)
    with torch.no_grad():
        features = encoder.frame_features(torch.as_tensor(clip))
    np.testing.assert_allclose(encoder.embed_episode(clip)[16], features[1:17].mean(0).numpy(), atol=1e-5)


def test_frames_are_normalised_with_minecraft_statistics_and_resized_to_160x256(attn_pth):
    encoder = load_mineclip(attn_pth)
    grey = np.full((1, 160, 256, 3), 128, np.uint8)
    expected_input = torch.tensor([(128 / 255 - 0.3331) / 0.2439, (128 / 255 - 0.3245) / 0.2493,
                                   (128 / 255 - 0.3051) / 0.2873]).view(1, 3, 1, 1).expand(1, 3, 160, 256)
    with torch.no_grad():
        expected = encoder.image_encoder(expected_input)
        np.testing.assert_allclose(encoder.frame_features(torch.as_tensor(grey)), expected, atol=1e-5)
        # a constant frame of another size resizes to the same constant frame
        small = np.full((1, 32, 48, 3), 128, np.uint8)
        np.testing.assert_allclose(encoder.frame_features(torch.as_tensor(small)), expected, atol=1e-5)


def test_missing_or_wrong_files_fail_with_one_line_naming_the_file_and_the_fix(tmp_path, attn_pth):
    with pytest.raises(MineCLIPError, match=r"nothing\.pth: not found; download attn\.pth"):
        load_mineclip(tmp_path / "nothing.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(MineCLIPError, match=r"text\.pth: not a torch checkpoint"):
        load_mineclip(tmp_path / "text.pth")
    torch.save(released_layout(), tmp_path / "bare.pth")  # a state dict without Lightning's wrapper
    with pytest.raises(MineCLIPError, match=r"bare\.pth: has no 'state_dict' entry"):
        load_mineclip(tmp_path / "bare.pth")
    state = released_layout()
    del state[f"{VIT}blocks.1.ln_2.bias"]
    torch.save({"state_dict": state}, tmp_path / "cut.pth")
    with pytest.raises(MineCLIPError, match=r"cut\.pth: not laid out as a MineCLIP checkpoint \(missing image_encoder\.blocks\.1\.ln_2\.bias"):
        load_mineclip(tmp_path / "cut.pth")
    state = released_layout()
    state[f"{VIT}pos_embed"] = state[f"{VIT}pos_embed"][:-1]
    torch.save({"state_dict": state}, tmp_path / "shape.pth")
    with pytest.raises(MineCLIPError, match=r"shape\.pth: not laid out as a MineCLIP checkpoint.*pos_embed"):
        load_mineclip(tmp_path / "shape.pth")
    torch.save({"state_dict": {"model.clip_model.logit_scale": torch.tensor(1.0)}}, tmp_path / "text_only.pth")
    with pytest.raises(MineCLIPError, match=r"text_only\.pth: no MineCLIP video encoder in it"):
        load_mineclip(tmp_path / "text_only.pth")


def test_data_embed_turns_a_vpt_dataset_into_per_step_embeddings_and_resumes(recordings, tmp_path, attn_pth, capsys):  # noqa: F811
    convert_vpt(recordings, tmp_path / "vpt", size=(32, 32), progress=False)
    summary = embed_dataset(tmp_path / "vpt", tmp_path / "goals", attn_pth, batch_size=8)
    assert "embedding 3 of 3 episodes" in capsys.readouterr().out
    source, embedded = episodes_by_source(tmp_path / "vpt"), episodes_by_source(tmp_path / "goals")
    assert sorted(embedded) == sorted(source) == ["a", "c", "sub/b"]
    assert (summary.episodes_embedded, summary.steps_embedded) == (3, sum(len(steps) for steps in source.values()))
    encoder = load_mineclip(attn_pth)
    for name, steps in source.items():
        goals = embedded[name]
        np.testing.assert_allclose(goals.obs, encoder.embed_episode(steps.obs["pov"]), atol=1e-5)
        np.testing.assert_array_equal(goals.episode_id, steps.episode_id)
        np.testing.assert_array_equal(goals.info["frame_index"], steps.info["frame_index"])
        np.testing.assert_array_equal(goals.truncated, steps.truncated)
        for key, values in steps.action.items():
            np.testing.assert_array_equal(goals.action[key], values)
    assert TrajectoryReader(tmp_path / "goals").metadata["attributes"]["pool"] == "attn"
    again = embed_dataset(tmp_path / "vpt", tmp_path / "goals", attn_pth, progress=False)
    assert (again.episodes_embedded, again.episodes_skipped) == (0, 3)


def test_data_embed_refuses_observations_that_are_not_frames(tmp_path, attn_pth):
    from behaviorlab.envs.datasets import DatasetError, TrajectoryWriter

    with TrajectoryWriter(tmp_path / "vectors") as writer:
        for _ in range(3):
            writer.add_step(np.zeros(5, np.float32), 0)
        writer.end_episode(terminated=True)
    with pytest.raises(DatasetError, match=r"vectors: observation 'pov' is not uint8 RGB frames"):
        embed_dataset(tmp_path / "vectors", tmp_path / "out", attn_pth, progress=False)
    assert not (tmp_path / "out").exists()
