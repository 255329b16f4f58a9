import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf
from PIL import Image

from combtf.errors import CombtfError
from combtf.swap.dfm_check import check_dfm
from combtf.swap.export import export
from combtf.swap.from_run import load_trained
from combtf.swap.onnx_export import DFM_INPUT, DFM_OUTPUTS, OPSET, dfm_layout
from combtf.swap.resample import resample
from combtf.training.loop import train
from tests.helpers import one_line_error, tiny_config
from tests.helpers import run as cli


@pytest.fixture(scope="module")
def run(demo_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # mirror averaging and halfway matching on: the exports must carry both
    config = tiny_config(demo_set / "train", tmp_path_factory.mktemp("runs") / "demo", mirror_average=True, latent_match=0.5)
    return train(config, show_progress=False).run


@pytest.fixture(scope="module")
def exported(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(load_trained(run), tmp_path_factory.mktemp("exports"), formats=("savedmodel", "onnx", "dfm")).folder


def serving(exported: Path, name: str) -> object:
    return tf.saved_model.load(str(exported / name / "1")).signatures["serving_default"]


def crops(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, size, size, 3), np.float32)


def test_onnx_swaps_equal_the_savedmodels_for_every_kind_of_target(exported: Path) -> None:
    meta = json.loads((exported / "model.json").read_text())
    assert meta["onnx"]["targets"] == ["ada", "ben", "cleo", "*"] and meta["onnx"]["opset"] == OPSET
    x = crops(3, meta["resolution"])
    for name, file in meta["onnx"]["files"].items():
        session = ort.InferenceSession(str(exported / file), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["images", "target"] and session.get_outputs()[0].name == "swapped"
        assert session.get_inputs()[0].shape[1:] == [8, 8, 3] and not isinstance(session.get_inputs()[0].shape[0], int)
        swap = serving(exported, name)
        drawn = {}
        other = "cleo" if name == "ben" else "ben"  # matching a source's own statistics changes nothing
        for target, index in ((other, ["ada", "ben", "cleo"].index(other)), ("*", 3), ("", -1)):
            want = swap(images=tf.constant(x), target=tf.constant([target] * 3))["swapped"].numpy()
            got = session.run(None, {"images": x, "target": np.full(3, index, np.int64)})[0]
            assert np.abs(got - want).max() < 1e-4, (name, target)
            drawn[target] = got
        assert np.abs(drawn[other] - drawn[""]).max() > 1e-4 and np.abs(drawn[other] - drawn["*"]).max() > 1e-4  # the index selects
        props = {p.key: p.value for p in onnx.load(str(exported / file)).metadata_props}
        assert props["synthetic"] == "true" and props["source_identity"] == name


def test_a_dfm_passes_deepfacelives_rules_and_swaps_as_the_savedmodel(exported: Path) -> None:
    size = json.loads((exported / "model.json").read_text())["resolution"]
    layout = dfm_layout(size)
    bgr = crops(4, size, seed=1)
    for name in ("ada", "cleo"):
        path = exported / "dfm" / f"{name}.dfm"
        facts = check_dfm(path)
        assert (facts.height, facts.width, facts.opset, facts.morph) == (size, size, OPSET, False)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == list(DFM_OUTPUTS) and session.get_inputs()[0].name == DFM_INPUT
        face_mask, face, celeb_mask = session.run(None, {DFM_INPUT: bgr})
        # the same swap by hand: whole face -> combtf's crop (RGB), the SavedModel with a stranger's statistics, and back
        crop = resample(tf.constant(bgr[..., ::-1].copy()), layout.to_crop)
        swapped = serving(exported, name)(images=crop, target=tf.constant(["*"] * 4))["swapped"]
        want = resample(swapped, layout.to_input).numpy()[..., ::-1] * layout.to_input.inside + bgr * (1 - layout.to_input.inside)
        assert np.abs(face - want).max() < 1e-4
        assert np.array_equal(face_mask, celeb_mask) and face_mask.shape == (4, size, size, 1)
        assert face_mask[:, 0, 0].max() == 0 and face_mask[:, size // 2, size // 2].min() > 0.9  # a face mask, not a square


def test_a_dfm_tuned_to_a_known_target_uses_its_statistics(run: Path, exported: Path, tmp_path: Path) -> None:
    tuned = export(load_trained(run), tmp_path, ["ada"], formats=("dfm",), dfm_target="ben").dfm["ada"]
    bgr = crops(2, 8, seed=2)
    outputs = [ort.InferenceSession(str(p)).run(None, {DFM_INPUT: bgr})[1] for p in (tuned, exported / "dfm" / "ada.dfm")]
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-4
    assert json.loads((tuned.parents[1] / "model.json").read_text())["dfm"]["target"] == "ben"
    with pytest.raises(CombtfError, match="'zed' is not an identity"):
        export(load_trained(run), tmp_path, ["ada"], formats=("dfm",), dfm_target="zed")


def test_model_json_keeps_files_an_earlier_export_wrote(run: Path, tmp_path: Path) -> None:
    trained = load_trained(run)
    export(trained, tmp_path, ["ben"], formats=("onnx",))
    folder = export(trained, tmp_path, ["ada"], formats=("savedmodel", "dfm")).folder
    meta = json.loads((folder / "model.json").read_text())
    assert meta["identities"] == ["ada"] and meta["onnx"]["files"] == {"ben": "onnx/ben.onnx"}
    assert meta["dfm"]["files"] == {"ada": "dfm/ada.dfm"} and meta["dfm"]["input_size"] == 8


@pytest.mark.parametrize("break_it, fragment", [
    ("reorder", "outputs must be exactly, in order"),
    ("fixed_batch", "batch must be dynamic"),
    ("rename", "first input must be named in_face:0"),
    ("garbage", "not an ONNX model"),
])
def test_the_checker_names_what_a_broken_dfm_breaks(exported: Path, tmp_path: Path, break_it: str, fragment: str) -> None:
    model = onnx.load(str(exported / "dfm" / "ada.dfm"))
    if break_it == "reorder":
        outputs = list(model.graph.output)
        del model.graph.output[:]
        model.graph.output.extend([outputs[1], outputs[0], outputs[2]])
    elif break_it == "fixed_batch":
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    elif break_it == "rename":
        model.graph.input[0].name = "images"
    path = tmp_path / "broken.dfm"
    path.write_bytes(b"not a protobuf at all \xff" * 10 if break_it == "garbage" else model.SerializeToString())
    with pytest.raises(CombtfError, match=fragment) as caught:
        check_dfm(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_export_command_writes_every_format(run: Path, tmp_path: Path) -> None:
    result = cli("export", "--model", run, "--out", tmp_path, "--format", "all", "--identities", "ben")
    assert result.exit_code == 0, result.output
    assert "ben DFM: " in result.output and "ben ONNX: " in result.output and "ben SavedModel: " in result.output
    folder = tmp_path / run.name
    assert (folder / "dfm" / "ben.dfm").is_file() and (folder / "onnx" / "ben.onnx").is_file() and (folder / "ben" / "1").is_dir()
    one_line_error(cli("export", "--model", run, "--out", tmp_path, "--format", "dfm", "--target", "zed"), "--target 'zed'")


def test_without_the_onnx_extra_the_export_says_which_to_install(run: Path, tmp_path: Path) -> None:
    script = ("import sys; sys.modules['tf2onnx'] = None\n"  # as if the extra were not installed
              "from combtf_cli.main import main; main()")
    done = subprocess.run([sys.executable, "-c", script, "export", "--model", str(run), "--out", str(tmp_path), "--format", "onnx"],
                          capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1 and "combtf[onnx]" in lines[0], done.stderr
    assert not (tmp_path / run.name).exists()  # nothing half-exported


def test_a_failed_dfm_check_leaves_no_file(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import combtf.swap.onnx_export as module

    def refuse(path: Path) -> None:
        raise CombtfError(f"{path}: refused")

    monkeypatch.setattr(module, "check_dfm", refuse)
    with pytest.raises(CombtfError, match="refused"):
        export(load_trained(run), tmp_path, ["ada"], formats=("dfm",))
    assert not list((tmp_path / run.name / "dfm").glob("*"))
    shutil.rmtree(tmp_path / run.name)


SERVING_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def guide_example(tag: str, exported: Path) -> str:
    text = SERVING_GUIDE.read_text()
    snippet = re.search(rf"<!-- {tag} -->\n```python\n(.*?)```", text, re.S).group(1)
    snippet, count = re.subn(r'^export = "[^"]*"', f"export = {str(exported)!r}", snippet, flags=re.M)
    assert count == 1
    return snippet


def test_the_serving_guides_onnx_and_dfm_scripts_run(exported: Path, demo_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(demo_set)
    frame = np.asarray(Image.open(demo_set / "eval" / "ben" / "eval_0000.png").convert("RGB").resize((8, 8), Image.LANCZOS), np.float32) / 255
    whole = resample(tf.constant(frame[None]), dfm_layout(8).to_input).numpy()[0]
    Image.fromarray((whole * 255).round().astype(np.uint8)).save(tmp_path / "whole_face.png")
    monkeypatch.chdir(tmp_path)
    for tag in ("onnx-example", "dfm-example"):
        exec(compile(guide_example(tag, exported), f"docs/serving.md {tag}", "exec"), {})
    onnx_png, dfm_png = Image.open(tmp_path / "ada_from_ben_onnx.png"), Image.open(tmp_path / "ada_dfm.png")
    assert onnx_png.text["Synthetic"] == "true" and dfm_png.text["Synthetic"] == "true"
    want = serving(exported, "ada")(images=tf.constant(frame[None]), target=tf.constant(["ben"]))["swapped"].numpy()[0]
    assert np.abs(np.asarray(onnx_png, np.float32) / 255 - want).max() <= 1 / 255 + 1e-6
    assert np.abs(np.asarray(dfm_png, np.float32) / 255 - whole).max() > 0.02  # the face did change


@pytest.mark.parametrize("size", [64, 128, 256])
def test_the_dfm_layout_stays_inside_what_the_tools_accept(size: int) -> None:
    layout = dfm_layout(size)
    assert layout.mask.min() >= 0.0 and layout.mask.max() <= 1.0 and layout.mask.max() > 0.99
    assert layout.input_size == size and layout.to_input.inside.mean() > 0.9  # combtf's crop covers the whole-face crop
