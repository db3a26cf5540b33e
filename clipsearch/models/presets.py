"""Presets (``--model multilingual | fast | best``) and weights licences, as data.

A preset names one concrete open_clip model and tag, chosen from open_clip's published results
(``docs/openclip_results.csv``, ``openclip_multilingual_retrieval_results.csv``) and Immich's
Crossmodal-3600 table, among weights whose licence allows any use. Weights under a non-commercial
licence (MobileCLIP2's Apple AMLR, MetaCLIP 2 worldwide's CC-BY-NC) are never a preset; ``status``
shows the licence of whatever an index was built with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    model: str
    pretrained: str
    why: str


PRESETS: dict[str, Preset] = {
    "fast": Preset(
        "fast", "ViT-B-32-256", "datacomp_s34b_b86k",
        "the cheapest good model: ViT-B/32 at 256 px, ImageNet 72.8, COCO text->image R@1 39.9; English only",
    ),
    "multilingual": Preset(
        "multilingual", "xlm-roberta-base-ViT-B-32", "laion5b_s13b_b90k",
        "ViT-B/32 images with an XLM-R text tower: Crossmodal-3600 R@1 ru 62.3, zh 53.7 (ViT-B-32-256: 1.3, 2.4)",
    ),
    "best": Preset(
        "best", "ViT-SO400M-16-SigLIP2-384", "webli",
        "SigLIP2 SO400M at 384 px: ImageNet 84.1, COCO R@1 56.0, multilingual (Gemma tokenizer); ~10x ViT-B/32's cost",
    ),
}  # fmt: skip

#: Licence of the weights, by (architecture prefix, tag); the first match wins. '' = not recorded.
_LICENCES: tuple[tuple[str, str, str], ...] = (
    ("MobileCLIP", "", "apple-amlr (non-commercial research only)"),
    ("", "metaclip2_worldwide", "CC-BY-NC-4.0 (non-commercial)"),
    ("", "metaclip", "CC-BY-NC-4.0 (non-commercial)"),
    ("", "webli", "Apache-2.0"),
    ("PE-Core", "meta", "Apache-2.0"),
    ("", "datacomp", "MIT"),
    ("", "laion", "MIT"),
    ("", "dfn", "apple-sample-code-license"),
    ("", "openai", "MIT"),
    ("nllb-clip", "", "CC-BY-NC-4.0 (NLLB weights are non-commercial)"),
)
NON_COMMERCIAL = "non-commercial"


def licence_of(name: str, pretrained: str) -> str:
    """The weights licence of an open_clip name and tag, or '' when this table does not know it."""
    if pretrained in {"none", ""}:
        return "random weights" if pretrained == "none" else ""
    if pretrained == "builtin":  # tiny-shapes: trained by tools/train_tiny_shapes.py, shipped in the wheel
        return "MIT (clipsearch's own, trained here)"
    for prefix, tag, licence in _LICENCES:
        if name.startswith(prefix) and pretrained.startswith(tag):
            return licence
    return ""


def check_presets() -> list[str]:
    """Presets whose licence is unknown or non-commercial: must be empty (a test keeps it so)."""
    bad = []
    for preset in PRESETS.values():
        licence = licence_of(preset.model, preset.pretrained)
        if not licence or NON_COMMERCIAL in licence:
            bad.append(f"{preset.name}: {licence or 'unknown licence'}")
    return bad
