"""Models: which model (registry), how it is built (open_clip loading), and how it runs.

Runtimes (PyTorch, ONNX Runtime, OpenVINO) sit behind one :class:`~.encoder.Encoder` protocol;
``runtimes`` is the only module that knows them all. Nothing here imports the store, ingest or
query layers. Empty on purpose: ``import clipsearch.models.X`` must not pull in torch.
"""
