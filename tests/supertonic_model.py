"""A stand-in Supertonic model folder, built at test time: four tiny ONNX graphs with the real
models' input and output names, dtypes and ranks, plus tts.json, unicode_indexer.json and two
voice styles. It sings rather than speaks, in a way the tests can measure:

- duration_predictor: the text's length (text_mask summed) times the mean of the voice's
  style_dp, in seconds; so the sound's length follows the duration predictor, and the rate.
- vector_estimator: each step moves the latent 1/(total_step - current_step) of the way to the
  mean of the voice's style_ttl; after exactly total_step steps, 0..total_step-1, it is that
  constant, and otherwise it still carries the engine's noise.
- vocoder: a 440 Hz sine whose amplitude is the latent, 3,072 samples per latent frame.

So a correct inference loop gives a clean tone whose loudness names the voice.
"""

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from services.renderer.tts.supertonic_files import ModelFile, write_completion_marker

SAMPLE_RATE = 44_100
BASE_CHUNK_SIZE = 512
CHUNK_COMPRESS_FACTOR = 6
LATENT_DIM = 24
TEXT_EMBEDDING_DIM = 256
STYLE_TTL_DIMS = [1, 50, 256]
STYLE_DP_DIMS = [1, 8, 16]
TONE_HZ = 440.0
OPSET = 18

SECONDS_PER_CHARACTER = 0.05
VOICE_LOUDNESS = {"F1": 0.5, "M1": 0.25}
"""Each stand-in voice's tone amplitude (its style_ttl's value)."""

INDEXED_RANGES = [(0x20, 0x7F), (0x1100, 0x1200)]
"""Characters the stand-in can say: printable ASCII (language tags included) and the conjoining
Hangul jamo that NFKD turns syllables into. Everything else is -1, as in the real indexer."""
INDEXER_LENGTH = 0x1200

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64
STAND_IN_REVISION = "stand-in"


def build_stand_in_model(folder: Path) -> Path:
    """Writes the stand-in model into `folder` (created), with the completion marker that
    `slidereel voices fetch` writes last; returns `folder`."""
    onnx_dir = folder / "onnx"
    styles_dir = folder / "voice_styles"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    styles_dir.mkdir(exist_ok=True)
    _save(_duration_predictor(), onnx_dir / "duration_predictor.onnx")
    _save(_text_encoder(), onnx_dir / "text_encoder.onnx")
    _save(_vector_estimator(), onnx_dir / "vector_estimator.onnx")
    _save(_vocoder(), onnx_dir / "vocoder.onnx")
    config = {
        "tts_version": "stand-in",
        "ae": {"sample_rate": SAMPLE_RATE, "base_chunk_size": BASE_CHUNK_SIZE},
        "ttl": {"latent_dim": LATENT_DIM, "chunk_compress_factor": CHUNK_COMPRESS_FACTOR},
    }
    (onnx_dir / "tts.json").write_text(json.dumps(config), encoding="utf-8")
    indexer = [-1] * INDEXER_LENGTH
    for start, end in INDEXED_RANGES:
        for code in range(start, end):
            indexer[code] = code % 256 + 1
    (onnx_dir / "unicode_indexer.json").write_text(json.dumps(indexer), encoding="utf-8")
    for name, loudness in VOICE_LOUDNESS.items():
        style = {
            "style_ttl": {"dims": STYLE_TTL_DIMS, "data": np.full(STYLE_TTL_DIMS, loudness).tolist()},
            "style_dp": {"dims": STYLE_DP_DIMS, "data": np.full(STYLE_DP_DIMS, SECONDS_PER_CHARACTER).tolist()},
        }
        (styles_dir / f"{name}.json").write_text(json.dumps(style), encoding="utf-8")
    files = [ModelFile.of(folder, path.relative_to(folder).as_posix()) for path in sorted(folder.rglob("*")) if path.is_file()]
    write_completion_marker(folder, STAND_IN_REVISION, files)
    return folder


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    # onnx writes its newest IR version (14 with onnx 1.23); onnxruntime 1.20, the oldest the
    # project allows, reads 10 at most, and these graphs need nothing newer.
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, path)


def _tensor(name: str, dtype: int, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _constant(name: str, values, dtype=np.float32) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _text_inputs(style_name: str, style_dims: list) -> list[onnx.ValueInfoProto]:
    return [
        _tensor("text_ids", INT64, ["batch", "text"]),
        _tensor(style_name, FLOAT, ["batch", *style_dims[1:]]),
        _tensor("text_mask", FLOAT, ["batch", 1, "text"]),
    ]


def _duration_predictor() -> onnx.GraphProto:
    nodes = [
        helper.make_node("ReduceSum", ["text_mask", "text_axes"], ["characters"], keepdims=0),
        helper.make_node("ReduceMean", ["style_dp", "style_axes"], ["seconds_per_character"], keepdims=0),
        helper.make_node("Mul", ["characters", "seconds_per_character"], ["duration"]),
    ]
    initializers = [_constant("text_axes", [1, 2], np.int64), _constant("style_axes", [1, 2], np.int64)]
    outputs = [_tensor("duration", FLOAT, ["batch"])]
    return helper.make_graph(nodes, "duration_predictor", _text_inputs("style_dp", STYLE_DP_DIMS), outputs, initializers)


def _text_encoder() -> onnx.GraphProto:
    nodes = [
        helper.make_node("Cast", ["text_ids"], ["ids"], to=FLOAT),
        helper.make_node("Unsqueeze", ["ids", "channel_axis"], ["ids_3d"]),
        helper.make_node("Mul", ["ids_3d", "text_mask"], ["masked"]),
        helper.make_node("Expand", ["masked", "embedding_shape"], ["text_emb"]),
    ]
    initializers = [_constant("channel_axis", [1], np.int64), _constant("embedding_shape", [1, TEXT_EMBEDDING_DIM, 1], np.int64)]
    outputs = [_tensor("text_emb", FLOAT, ["batch", TEXT_EMBEDDING_DIM, "text"])]
    return helper.make_graph(nodes, "text_encoder", _text_inputs("style_ttl", STYLE_TTL_DIMS), outputs, initializers)


def _vector_estimator() -> onnx.GraphProto:
    latent_channels = LATENT_DIM * CHUNK_COMPRESS_FACTOR
    inputs = [
        _tensor("noisy_latent", FLOAT, ["batch", latent_channels, "latent"]),
        _tensor("text_emb", FLOAT, ["batch", TEXT_EMBEDDING_DIM, "text"]),
        _tensor("style_ttl", FLOAT, ["batch", *STYLE_TTL_DIMS[1:]]),
        _tensor("latent_mask", FLOAT, ["batch", 1, "latent"]),
        _tensor("text_mask", FLOAT, ["batch", 1, "text"]),
        _tensor("current_step", FLOAT, ["batch"]),
        _tensor("total_step", FLOAT, ["batch"]),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["style_ttl", "style_axes"], ["target"], keepdims=1),
        helper.make_node("Sub", ["target", "noisy_latent"], ["gap"]),
        helper.make_node("Sub", ["total_step", "current_step"], ["steps_left"]),
        helper.make_node("Reshape", ["steps_left", "per_batch_shape"], ["steps_left_3d"]),
        helper.make_node("Div", ["gap", "steps_left_3d"], ["move"]),
        helper.make_node("Add", ["noisy_latent", "move"], ["moved"]),
        helper.make_node("Mul", ["moved", "latent_mask"], ["denoised_latent"]),
    ]
    initializers = [_constant("style_axes", [1, 2], np.int64), _constant("per_batch_shape", [-1, 1, 1], np.int64)]
    outputs = [_tensor("denoised_latent", FLOAT, ["batch", latent_channels, "latent"])]
    return helper.make_graph(nodes, "vector_estimator", inputs, outputs, initializers)


def _vocoder() -> onnx.GraphProto:
    samples_per_frame = BASE_CHUNK_SIZE * CHUNK_COMPRESS_FACTOR
    nodes = [
        # The amplitude of each frame, held for its samples.
        helper.make_node("ReduceMean", ["latent", "channel_axes"], ["frame_level"], keepdims=0),
        helper.make_node("Unsqueeze", ["frame_level", "last_axis"], ["frame_level_3d"]),
        helper.make_node("Expand", ["frame_level_3d", "frame_samples_shape"], ["held"]),
        helper.make_node("Reshape", ["held", "flat_shape"], ["amplitude"]),
        # The sine, one value per output sample.
        helper.make_node("Shape", ["amplitude"], ["amplitude_shape"]),
        helper.make_node("Gather", ["amplitude_shape", "sample_axis"], ["sample_count"], axis=0),
        helper.make_node("Cast", ["sample_count"], ["sample_count_float"], to=FLOAT),
        helper.make_node("Range", ["zero", "sample_count_float", "one"], ["sample_index"]),
        helper.make_node("Mul", ["sample_index", "radians_per_sample"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["sine"]),
        helper.make_node("Mul", ["amplitude", "sine"], ["wav_tts"]),
    ]
    initializers = [
        _constant("channel_axes", [1], np.int64),
        _constant("last_axis", [2], np.int64),
        _constant("frame_samples_shape", [1, 1, samples_per_frame], np.int64),
        _constant("flat_shape", [0, -1], np.int64),
        _constant("sample_axis", 1, np.int64),
        _constant("zero", 0.0),
        _constant("one", 1.0),
        _constant("radians_per_sample", 2 * np.pi * TONE_HZ / SAMPLE_RATE),
    ]
    inputs = [_tensor("latent", FLOAT, ["batch", LATENT_DIM * CHUNK_COMPRESS_FACTOR, "latent"])]
    return helper.make_graph(nodes, "vocoder", inputs, [_tensor("wav_tts", FLOAT, ["batch", "samples"])], initializers)
