"""Known-harmless library messages are silenced one by one; everything else still shows (issue 16)."""

from __future__ import annotations

import logging
import warnings

from lightning.pytorch.utilities import _pytree
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from riskvision.utils.quiet import quiet_known_messages


def test_lightning_tips_and_the_pytree_deprecation_are_silenced_but_nothing_else(caplog):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_messages()
        _pytree._tree_flatten(1)  # builds a LeafSpec: torch's FutureWarning, raised inside Lightning
        warnings.warn("a real warning", UserWarning)
    assert [str(w.message) for w in caught] == ["a real warning"]
    with caplog.at_level(logging.INFO):
        rank_zero_info("💡 Tip: For seamless cloud logging, try installing something")
        rank_zero_info("GPU available: False, used: False")
    assert "Tip" not in caplog.text and "GPU available" in caplog.text
