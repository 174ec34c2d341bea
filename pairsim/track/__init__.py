"""Siamese tracking (SiamFC, Bertinetto et al. 2016): one fully-convolutional tower embeds a target exemplar and a
larger search region, and a cross-correlation head turns the two feature maps into a response map whose peak is the
target's new position.

- :mod:`pairsim.track.heads`: map heads by short name (``xcorr``).
- :mod:`pairsim.track.backbones`: fully-convolutional towers by short name (``alexnet``, ``timm``) with a known
  total stride.
- :mod:`pairsim.track.model`: :class:`~pairsim.track.model.SiamFC`, saved and loaded like every pairsim model.
- :mod:`pairsim.track.synthetic`: sequences with exact boxes made from still images; :mod:`pairsim.track.sequences`
  reads OTB / GOT-10k folders and videos.
- :mod:`pairsim.track.train`: training pairs, the balanced logistic loss over the response map, the loop.
- :mod:`pairsim.track.tracker`: the tracker (scale pyramid, cosine window, damped size updates).
- :mod:`pairsim.track.runtime`: how the tracker runs its tower (the folded eval network in PyTorch or onnxruntime).
- :mod:`pairsim.track.otb`: the OTB protocol (success AUC, precision at 20 px) and the forward-backward error.
- :mod:`pairsim.track.baselines`: OpenCV's template matching, CSRT and KCF behind the same interface.
"""
