"""The training step both networks share: a wrapper model that `fit` can drive."""

from __future__ import annotations

import keras
import tensorflow as tf


class NetworkTrainer(keras.Model):
    """Wraps a network for `fit`: subclasses say how a batch's loss and metrics are computed.

    Subclasses implement `_loss(outputs, labels) -> scalar` and
    `_update_metrics(loss, outputs, labels) -> dict`. The network's own regularisation losses
    are added to the loss that is minimised but not to the one reported.

    `training_network` is what the training step runs: the network itself, or a model sharing
    its layers that computes only the outputs the loss needs (the pose network's decoding
    head costs twice its trunk and no gradient flows through it).
    """

    def __init__(self, network: keras.Model, training_network: keras.Model | None = None, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.training_network = network if training_network is None else training_network

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def train_step(self, data):
        inputs, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        network = self.training_network
        variables = network.trainable_variables
        with tf.GradientTape() as tape:
            outputs = network(inputs, training=True)
            loss = self._loss(outputs, labels)
            total = loss + tf.add_n(network.losses) if network.losses else loss
        self.optimizer.apply(tape.gradient(total, variables), variables)
        return self._update_metrics(loss, outputs, labels)

    def test_step(self, data):
        inputs, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self.network(inputs, training=False)
        return self._update_metrics(self._loss(outputs, labels), outputs, labels)

    def _loss(self, outputs, labels):
        raise NotImplementedError

    def _update_metrics(self, loss, outputs, labels):
        raise NotImplementedError
