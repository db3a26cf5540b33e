"""Model facts as data: which architecture, which weights, what dimension and preprocessing.

A :class:`ModelRef` is what the user asked for (architecture + weights source). A :class:`ModelInfo`
is what was actually loaded (dimension, image size, normalisation, resize mode); it is written into
every index manifest so a later run can tell, without loading anything, whether it would mix
vectors from two different models.

The defaults follow open_clip's own registry (``pretrained.py``): an architecture name with no
``--pretrained`` gets the best tag we know for it, else open_clip's first listed tag.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import UsageError

#: SigLIP2 at ViT-B/32 cost: ImageNet 74.0 vs 72.8 and COCO text->image R@1 47.2 vs 39.9 for
#: ViT-B-32-256 datacomp (open_clip's results tables), and multilingual (Gemma tokenizer). Chosen
#: by `make bench` (tools/bench_models.py): indexing as fast as ViT-B-32-256 and a cold text query
#: under a second at 100k items (docs/models.md). Existing indexes keep their own model.
DEFAULT_MODEL = "ViT-B-32-SigLIP2-256"
#: Preferred weights per architecture where open_clip lists several (best zero-shot at equal cost).
PREFERRED_TAGS: dict[str, str] = {
    "ViT-B-32-SigLIP2-256": "webli",
    "ViT-B-32-256": "datacomp_s34b_b86k",  # ~73% ImageNet zero-shot vs 67% for laion2b ViT-B-32
    "ViT-B-32": "datacomp_xl_s13b_b90k",
    "ViT-B-16": "datacomp_xl_s13b_b90k",
    "ViT-L-14": "datacomp_xl_s13b_b90k",
}
#: Pretrained values meaning "random initialisation" (benchmarks, tests).
RANDOM_TAGS = frozenset({"none", "random"})
HF_PREFIX = "hf-hub:"
#: open_clip's own schema for a model folder: open_clip_config.json, weights and tokenizer files.
LOCAL_PREFIX = "local-dir:"


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped inside the package: config and weights need no download."""

    name: str
    config_file: str
    weights_file: str
    description: str
    toy: bool = True
    #: Preprocessing override (open_clip PreprocessCfg keys) for models trained with their own.
    preprocess: dict[str, Any] = field(default_factory=dict)


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "tiny-shapes": BuiltinModel(
        name="tiny-shapes",
        config_file="tiny-shapes.json",
        weights_file="tiny-shapes.safetensors",
        description="toy model trained here on coloured shapes (6 colours x 5 shapes); offline demo and tests",
        preprocess={"resize_mode": "longest", "interpolation": "bilinear", "fill_color": 255},
    ),
}


def package_file(*parts: str) -> Path:
    """Path of a data file shipped beside this module (``model_configs/``, ``weights/``)."""
    return Path(str(resources.files(__package__).joinpath(*parts)))


@dataclass(frozen=True)
class ModelRef:
    """What to load. ``kind`` says how: 'builtin', 'arch' (open_clip name), 'config' (JSON path),
    'hf' (``hf-hub:`` repository) or 'local' (``local-dir:`` folder)."""

    name: str
    pretrained: str
    kind: str

    @property
    def is_random(self) -> bool:
        return self.pretrained.lower() in RANDOM_TAGS

    @property
    def label(self) -> str:
        return f"{self.name} ({self.pretrained})" if self.pretrained else self.name

    @property
    def folder(self) -> Path:
        """The model folder of a ``local-dir:`` reference (kind 'local')."""
        return Path(self.name[len(LOCAL_PREFIX) :])


def _looks_like_path(value: str) -> bool:
    return value.endswith(".json") or os.sep in value or value.startswith(".")


def resolve_model_ref(model: str | None = None, pretrained: str | None = None) -> ModelRef:
    """Turn the user's ``--model``/``--pretrained`` (or their defaults) into a normalised reference.

    Paths are made absolute so an index records where its weights came from no matter where the
    command ran. Errors here are the user's to fix, so they say what values are accepted.
    """
    from .presets import PRESETS

    model = (model or DEFAULT_MODEL).strip()
    pretrained = (pretrained or "").strip()
    if model in PRESETS:
        if pretrained and pretrained.lower() not in RANDOM_TAGS:
            raise UsageError(f"--model {model} is a preset with its own weights; do not pass --pretrained")
        preset = PRESETS[model]
        model, pretrained = preset.model, pretrained or preset.pretrained
    if model in BUILTIN_MODELS:
        if pretrained and pretrained not in RANDOM_TAGS:
            raise UsageError(f"model {model!r} ships its own weights; do not pass --pretrained")
        return ModelRef(model, pretrained or "builtin", "builtin")
    if model.startswith(HF_PREFIX):
        if pretrained:
            raise UsageError(f"--model {model} brings its own weights; do not pass --pretrained")
        return ModelRef(model, "", "hf")
    if model.startswith(LOCAL_PREFIX):
        return _local_dir_ref(model, pretrained)
    if _looks_like_path(model):
        path = Path(model).expanduser()
        if path.is_dir():  # a model folder named without the schema: the same as local-dir:
            return _local_dir_ref(LOCAL_PREFIX + model, pretrained)
        if not path.is_file():
            raise UsageError(f"model config file not found: {model}")
        if not pretrained:
            raise UsageError(
                f"--model {model} is a config file: also pass --pretrained with a weights file, "
                "an hf-hub: name, or 'none' for random weights"
            )
        return ModelRef(str(path.resolve()), _normalise_pretrained(pretrained), "config")
    if model not in open_clip_architectures():
        import open_clip  # configs registered at run time (add_model_config) are only known to it

        if model not in open_clip.list_models():
            raise UsageError(
                f"unknown model {model!r}: pass an open_clip architecture (e.g. {DEFAULT_MODEL}), a path to an "
                f"open_clip config JSON, an hf-hub: name, or one of the built-in models: {', '.join(BUILTIN_MODELS)}"
            )
    if not pretrained and model in PREFERRED_TAGS:
        pretrained = PREFERRED_TAGS[model]
    if pretrained:
        return ModelRef(model, _normalise_pretrained(pretrained), "arch")
    import open_clip

    tags = open_clip.list_pretrained_tags_by_model(model)
    if not tags:
        raise UsageError(f"model {model!r} has no known pretrained weights: pass --pretrained FILE")
    return ModelRef(model, _normalise_pretrained(tags[0]), "arch")


def _local_dir_ref(model: str, pretrained: str) -> ModelRef:
    """``local-dir:FOLDER``: open_clip's folder schema; the folder path is made absolute."""
    folder = Path(model[len(LOCAL_PREFIX) :]).expanduser()
    if pretrained:
        raise UsageError(f"--model {model} brings its own weights; do not pass --pretrained")
    if not folder.is_dir():
        raise UsageError(f"model folder not found: {folder}")
    if not (folder / "open_clip_config.json").is_file():
        raise UsageError(
            f"{folder} has no open_clip_config.json: a local-dir: model folder holds that file, the weights "
            "(open_clip_model.safetensors) and the tokenizer files, as on the Hugging Face hub"
        )
    return ModelRef(LOCAL_PREFIX + str(folder.resolve()), "", "local")


def open_clip_config_path(name: str) -> Path | None:
    """The JSON file of an open_clip architecture, found without importing open_clip (None when
    open_clip's folder has none: a config registered at run time with ``add_model_config``)."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder, "model_configs", f"{name}.json")
        if path.is_file():
            return path
    return None


def open_clip_architectures() -> frozenset[str]:
    """open_clip's architecture names, read from its config folder without importing it (and torch).

    open_clip keeps its registry as data (``model_configs/*.json``); reading the folder costs
    milliseconds where ``import open_clip`` costs seconds, and a CLI run that ends in ONNX Runtime
    never needs torch."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    names: set[str] = set()
    for folder in (spec.submodule_search_locations or []) if spec else []:
        names.update(p.stem for p in Path(folder, "model_configs").glob("*.json"))
    return frozenset(names)


def _normalise_pretrained(pretrained: str) -> str:
    if pretrained.lower() in RANDOM_TAGS:
        return "none"
    if pretrained.startswith(HF_PREFIX):
        return pretrained
    path = Path(pretrained).expanduser()
    if path.is_file():
        return str(path.resolve())
    if _looks_like_path(pretrained) or path.suffix in {".bin", ".pt", ".pth", ".safetensors"}:
        raise UsageError(f"weights file not found: {pretrained}")
    return pretrained  # an open_clip pretrained tag, checked when loading


@dataclass(frozen=True)
class ModelInfo:
    """Facts of a loaded model, recorded in each index's manifest."""

    name: str
    pretrained: str
    kind: str
    dim: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    resize_mode: str
    context_length: int
    toy: bool = False
    description: str = ""
    #: exp of the learned temperature: softmax over category prompts needs it without the model.
    logit_scale: float = 100.0
    #: Padding grey level of resize mode 'longest' (open_clip's ``fill_color``).
    fill_color: int = 0
    #: SigLIP-style models' learned bias: p(match) = sigmoid(logit_scale * cos + logit_bias).
    #: None for CLIP models, whose scores only compare captions (softmax).
    logit_bias: float | None = None

    @property
    def sigmoid(self) -> bool:
        """Whether the model was trained with the sigmoid loss (its own match probability)."""
        return self.logit_bias is not None

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.name, self.pretrained, self.kind)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["mean"] = tuple(values["mean"])
        values["std"] = tuple(values["std"])
        if "fill_color" not in values and values.get("kind") == "builtin" and values.get("name") in BUILTIN_MODELS:
            # manifests written before fill_color was recorded: the built-in model's own setting
            values["fill_color"] = int(BUILTIN_MODELS[values["name"]].preprocess.get("fill_color", 0))
        return cls(**values)

    def same_model(self, ref: ModelRef) -> bool:
        """Whether vectors from ``ref`` may be mixed with vectors made by this model."""
        return (self.name, self.pretrained) == (ref.name, ref.pretrained)
