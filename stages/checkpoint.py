"""Resuming an interrupted training from its last finished epoch."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the network's weights and the epochs' logs after every epoch.

    `resume()` before training loads them and says how many epochs are done, so a training
    that was killed continues from its last finished epoch instead of from scratch. The
    optimizer's moments start afresh on resume; the weights and the epoch count carry over.
    Put it last among the callbacks so the logs it saves hold the validation figures.
    """

    def __init__(self, network: keras.Model, directory: str | Path, fingerprint: str) -> None:
        super().__init__()
        self._network, self._directory, self._fingerprint = network, Path(directory), fingerprint
        self.completed_epochs = 0
        self.history: dict[str, list[float]] = {}

    @property
    def _state(self) -> Path:
        return self._directory / "state.json"

    @property
    def _weights(self) -> Path:
        return self._directory / "last.weights.h5"

    def resume(self) -> int:
        """Loads a checkpoint of the same training (same fingerprint); returns epochs already done."""
        if not self._state.is_file() or not self._weights.is_file():
            return 0
        state = json.loads(self._state.read_text())
        if state.get("fingerprint") != self._fingerprint:
            return 0
        self._network.load_weights(str(self._weights))
        self.completed_epochs, self.history = int(state["completed_epochs"]), state["history"]
        return self.completed_epochs

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.completed_epochs += 1
        self._directory.mkdir(parents=True, exist_ok=True)
        partial = self._directory / "partial.weights.h5"
        self._network.save_weights(str(partial))
        os.replace(partial, self._weights)
        state = {"fingerprint": self._fingerprint, "completed_epochs": self.completed_epochs, "history": self.history}
        partial_state = self._directory / "state.partial.json"
        partial_state.write_text(json.dumps(state))
        os.replace(partial_state, self._state)

    def clear(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)
