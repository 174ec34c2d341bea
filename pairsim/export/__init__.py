"""Exporting pair models to other runtimes: ONNX (per tower), sentence-transformers, the Hugging Face hub.

Each exporter lives in its own module and imports its optional dependency only when called.
"""
