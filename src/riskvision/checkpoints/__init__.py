"""Checkpoints and weights files: reading them safely, deciding what their stored config may build, loading and
writing train.py's checkpoints. One job per module; import the names from the module that holds them:

- :mod:`~riskvision.checkpoints.reading`: ``load_torch_file`` (``weights_only`` reading of any .ckpt / .pth, one
  error per kind of bad file: ``CheckpointError``, ``UnsafeCheckpointError``); standard library and torch only, so
  the model families' pretrained loaders use it too;
- :mod:`~riskvision.checkpoints.trust`: the allow-list a stored config is checked against before anything is built
  (``check_stored_config``, ``UntrustedConfigError``, ``OTHER_TARGETS``);
- :mod:`~riskvision.checkpoints.loading`: ``load_checkpoint`` (the one loader of train.py checkpoints: reading, then
  trust), the keys riskvision stores in a checkpoint (``CONFIG_KEY``, ...) and the model names of messages;
- :mod:`~riskvision.checkpoints.writing`: train.py's side (Lightning callbacks, atomic checkpoint IO) and
  ``store_operating_point``; inference never imports it.

This file imports nothing, so reading a weights file does not import the rest.
"""
