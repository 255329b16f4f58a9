import json
import re
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from combtf.analysis.ground_truth import evaluate
from combtf.errors import CombtfError
from combtf.swap.crops import swap_crops
from combtf.swap.export import export
from combtf.swap.from_export import load_exported
from combtf.swap.from_run import load_trained
from combtf.training.loop import train
from tests.helpers import tiny_config

SERVING_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


@pytest.fixture(scope="module")
def run(demo_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tiny_config(demo_set / "train", tmp_path_factory.mktemp("runs") / "demo"), show_progress=False).run


@pytest.fixture(scope="module")
def exported(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(load_trained(run), tmp_path_factory.mktemp("exports") / "exported_models").folder


def frames(demo_set: Path, identity: str, size: int) -> np.ndarray:
    paths = sorted((demo_set / "eval" / identity).glob("*.png"))
    return np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.LANCZOS), np.float32) / 255 for p in paths])


def copy_with(run: Path, dest: Path, option: str) -> Path:
    """The fixture run with one more line in its config: swap-time options need no retraining."""
    shutil.copytree(run, dest)
    (dest / "config.yaml").write_text((run / "config.yaml").read_text() + f"\n{option}\n")
    return dest


def test_layout_description_and_serving_config(exported: Path, run: Path) -> None:
    meta = json.loads((exported / "model.json").read_text())
    assert meta["identities"] == ["ada", "ben", "cleo"] and meta["resolution"] == 8
    assert meta["latent_matching"] and meta["source_run"] == str(run.resolve()) and meta["config"]["latent_dim"] == 16
    assert meta["tensorflow_version"] == tf.__version__ and "synthetic" in meta["synthetic"]
    for name in meta["identities"]:
        assert (exported / name / "1" / "saved_model.pb").is_file()
        assert f'base_path: "/models/{exported.name}/{name}"' in (exported / "models.config").read_text()


def test_an_export_holds_the_encoder_and_one_decoder_only(exported: Path, run: Path) -> None:
    model = load_trained(run).model
    level = 1
    wanted = [model.from_rgb[level], *model.encoder_blocks[: level + 1], *model.decoder_blocks["ada"][: level + 1], model.to_rgb["ada"][level]]
    expected = sorted(tuple(v.shape) for block in wanted for v in block.weights)
    loaded = tf.saved_model.load(str(exported / "ada" / "1"))
    assert sorted(tuple(v.shape) for v in loaded.variables) == expected  # nothing of ben's or cleo's decoders, no optimizer slots
    stored = tf.train.list_variables(str(exported / "ada" / "1" / "variables" / "variables"))
    assert {tuple(shape) for name, shape in stored if name != "_CHECKPOINTABLE_OBJECT_GRAPH"} == set(expected)
    assert not any("optimizer" in name or "average" in name for name, _ in stored)


def test_new_exports_add_versions_and_never_overwrite(run: Path, tmp_path: Path) -> None:
    trained = load_trained(run)
    first = export(trained, tmp_path, ["ada"]).versions["ada"]
    before = (first / "saved_model.pb").read_bytes()
    second = export(trained, tmp_path, ["ada"]).versions["ada"]
    assert (first.name, second.name) == ("1", "2")
    assert (first / "saved_model.pb").read_bytes() == before
    with pytest.raises(CombtfError, match="version 1 exists; exports never overwrite"):
        export(trained, tmp_path, ["ada"], version=1)
    with pytest.raises(CombtfError, match="'zed' is not an identity"):
        export(trained, tmp_path, ["zed"])
    assert json.loads((tmp_path / run.name / "model.json").read_text())["versions"] == {"ada": [1, 2]}


def test_a_fresh_process_without_combtf_serves_both_signatures(exported: Path, run: Path, demo_set: Path, tmp_path: Path) -> None:
    x = frames(demo_set, "ben", 8)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["combtf"] = None  # importing combtf must not be needed
        import numpy as np, tensorflow as tf
        model = tf.saved_model.load({str(exported / "ada" / "1")!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        out = model.signatures["serving_default"](images=tf.constant(x), target=tf.constant(["ben"] * len(x)))
        np.save({str(tmp_path / "y.npy")!r}, out["swapped"].numpy())
        data = open({str(demo_set / "eval" / "ben" / "eval_0000.png")!r}, "rb").read()
        png = model.signatures["serving_bytes"](image_bytes=tf.constant([data]), target=tf.constant(["ben"]))["png_bytes"]
        open({str(tmp_path / "out.png")!r}, "wb").write(png.numpy()[0])
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, capture_output=True)
    expected = np.asarray(load_trained(run).swap(x, "ada", "ben"))
    assert np.abs(np.load(tmp_path / "y.npy") - expected).max() <= 1e-4
    served = Image.open(tmp_path / "out.png")
    assert served.text["Synthetic"] == "true" and served.size == (8, 8)
    cli = Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run([str(cli), "show", "--all", "--dir", str(exported / "ada" / "1")], check=True, capture_output=True, text=True).stdout
    assert "signature_def['serving_default']" in shown and "signature_def['serving_bytes']" in shown


def test_bad_requests_fail_with_a_message(exported: Path) -> None:
    serve = tf.saved_model.load(str(exported / "ada" / "1")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must be float32 \[n, 8, 8, 3\]"):
        serve(images=tf.zeros([1, 16, 16, 3]), target=tf.constant(["ben"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must be float32 \[n, 8, 8, 3\]"):
        serve(images=tf.zeros([1, 8, 8, 4]), target=tf.constant(["ben"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="target must name an identity of this model"):
        serve(images=tf.zeros([1, 8, 8, 3]), target=tf.constant(["zed"]))


def test_swaps_from_the_export_equal_swaps_from_the_run(exported: Path, run: Path, demo_set: Path, tmp_path: Path) -> None:
    inputs = sorted((demo_set / "eval" / "ben").glob("*.png"))
    from_run = swap_crops(load_trained(run), "ada", "ben", inputs, tmp_path / "run")
    from_export = swap_crops(load_exported(exported), "ada", "ben", inputs, tmp_path / "export")
    assert len(from_run.written) == len(from_export.written) == len(inputs)
    for a, b in zip(from_run.written, from_export.written):
        assert np.abs(np.asarray(Image.open(a), int) - np.asarray(Image.open(b), int)).max() <= 1


def test_a_run_matching_latents_halfway_swaps_and_exports_halfway(run: Path, demo_set: Path, tmp_path: Path) -> None:
    half = copy_with(run, tmp_path / "half", "latent_match: 0.5")
    x = frames(demo_set, "ben", 8)
    full_run, half_run = load_trained(run), load_trained(half)
    swapped = {name: np.asarray(model.swap(x, "ada", "ben", match)) for name, model, match in
               (("full", full_run, True), ("half", half_run, True), ("none", full_run, False))}
    assert np.abs(swapped["half"] - swapped["full"]).max() > 1e-3 and np.abs(swapped["half"] - swapped["none"]).max() > 1e-3
    folder = export(half_run, tmp_path / "exports").folder
    served = load_exported(folder)
    np.testing.assert_allclose(np.asarray(served.swap(x, "ada", "ben")), swapped["half"], atol=2e-3)
    assert json.loads((folder / "model.json").read_text())["latent_match"] == 0.5
    reported = [evaluate(half_run, demo_set / "eval", [("ada", "ben")], match)["latent_match"] for match in (True, False)]
    assert reported == [0.5, 0.0]  # scores name the strength they were measured at


def test_a_run_averaging_mirrored_swaps_serves_that_average(run: Path, demo_set: Path, tmp_path: Path) -> None:
    mirrored = copy_with(run, tmp_path / "mirrored", "mirror_average: true")
    x = frames(demo_set, "ben", 8)
    plain, averaged = load_trained(run), load_trained(mirrored)
    expected = (np.asarray(plain.swap(x, "ada", "ben")) + np.asarray(plain.swap(x[:, :, ::-1], "ada", "ben"))[:, :, ::-1]) / 2
    swapped = np.asarray(averaged.swap(x, "ada", "ben"))
    np.testing.assert_allclose(swapped, expected, atol=1e-5)
    assert np.abs(swapped - np.asarray(plain.swap(x, "ada", "ben"))).max() > 1e-3
    served = tf.saved_model.load(str(export(averaged, tmp_path / "exports").folder / "ada" / "1")).signatures["serving_default"]
    out = served(images=tf.constant(x), target=tf.constant(["ben"] * len(x)))
    np.testing.assert_allclose(out["swapped"].numpy(), swapped, atol=2e-3)
    assert out["latent"].shape[0] == len(x)  # the frames' codes, not their mirror images' too
    assert evaluate(averaged, demo_set / "eval", [("ada", "ben")], True)["mirror_average"] is True  # scores say how they were swapped


def test_a_mixed_precision_run_serves_float32(demo_set: Path, tmp_path: Path) -> None:
    config = tiny_config(demo_set / "train", tmp_path / "bf16", precision="mixed_bfloat16", images_per_level=16)
    folder = export(load_trained(train(config, show_progress=False).run), tmp_path / "exports").folder
    serve = tf.saved_model.load(str(folder / "ben" / "1")).signatures["serving_default"]
    assert serve.structured_input_signature[1]["images"].dtype == tf.float32
    images = tf.random.uniform([2, 8, 8, 3], seed=1)
    out = serve(images=images, target=tf.constant(["ada", ""]))
    assert out["swapped"].dtype == tf.float32 and out["latent"].dtype == tf.float32
    # a bfloat16 export of the same run: float32 in and out, nearly the same pixels
    folder = export(load_trained(tmp_path / "bf16", "mixed_bfloat16"), tmp_path / "exports_bf16").folder
    assert json.loads((folder / "model.json").read_text())["compute_precision"] == "mixed_bfloat16"
    fast = tf.saved_model.load(str(folder / "ben" / "1")).signatures["serving_default"](images=images, target=tf.constant(["ada", ""]))
    assert fast["swapped"].dtype == tf.float32
    assert 0 < np.abs(fast["swapped"].numpy() - out["swapped"].numpy()).max() < 0.05


def test_the_serving_guides_request_body_goes_through_the_signature(exported: Path, run: Path, demo_set: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    text = SERVING_GUIDE.read_text()
    snippet = re.search(r"<!-- serving-example -->\n```python\n(.*?)```", text, re.S).group(1)
    snippet, count = re.subn(r'^export = "[^"]*"', f"export = {str(exported)!r}", snippet, flags=re.M)
    assert count == 1
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(demo_set)
    sent = []

    def fake_tf_serving(request: urllib.request.Request) -> object:
        """TF Serving's REST row format: instances -> columns -> signature -> predictions."""
        name = re.fullmatch(r"http://localhost:8501/v1/models/(\w+):predict", request.full_url).group(1)
        body = json.loads(request.data)
        sent.append(body)
        serve = tf.saved_model.load(str(exported / name / "1")).signatures[body["signature_name"]]
        columns = {key: tf.constant([row[key] for row in body["instances"]]) for key in body["instances"][0]}
        out = {key: value.numpy().tolist() for key, value in serve(**columns).items()}
        rows = [{key: out[key][i] for key in out} for i in range(len(body["instances"]))]
        return _Response(json.dumps({"predictions": rows}).encode())

    monkeypatch.setattr(urllib.request, "urlopen", fake_tf_serving)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "docs/serving.md example", "exec"), {})
    assert sent and sent[0]["instances"][0]["target"] == "ben"
    written = Image.open(tmp_path / "ada_from_ben.png")
    assert written.text["Synthetic"] == "true"
    expected = np.asarray(load_trained(run).swap(frames(demo_set, "ben", 8)[:1], "ada", "ben"))[0]
    assert np.abs(np.asarray(written, np.float32) / 255 - expected).max() <= 1 / 255 + 1e-6


class _Response:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


def test_an_export_missing_its_variables_is_one_error(exported: Path, demo_set: Path, tmp_path: Path) -> None:
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(exported, damaged)
    version = sorted((damaged / "ada").iterdir())[-1]
    shutil.rmtree(version / "variables")
    inputs = sorted((demo_set / "eval" / "ben").glob("*.png"))[:2]
    with pytest.raises(CombtfError, match=re.escape(f"{version}: cannot load the SavedModel")):
        swap_crops(load_exported(damaged), "ada", "ben", inputs, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written
