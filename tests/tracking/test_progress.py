"""Trainings report every step to whoever watches, and cost nothing when nobody does."""

from __future__ import annotations

import keras
import numpy as np

from tracking.progress import reporting_to, training_progress


def _fit(callback, epochs=2):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    model.fit(data, data[:, :1], batch_size=4, epochs=epochs, verbose=0, callbacks=[callback])


def test_every_step_is_reported_with_its_epoch_and_loss():
    seen = []
    with reporting_to(lambda *update: seen.append(update)):
        _fit(training_progress("train pose"))
    assert [done for _, done, _, _ in seen] == list(range(1, 7))  # 3 steps an epoch, 2 epochs
    assert {stage for stage, *_ in seen} == {"train pose"} and {total for _, _, total, _ in seen} == {6}
    assert seen[0][3].startswith("epoch 1/2, loss ") and seen[-1][3].startswith("epoch 2/2, loss ")


def test_without_a_reporter_nothing_is_reported():
    _fit(training_progress("train gait"), epochs=1)  # must not fail with no one listening
