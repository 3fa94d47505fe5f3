"""Training GaitNN on variable-length sequences of spatial features with subject labels.

`fit_gait` is a plain function: sequences are grouped into padded, masked batches (similar
lengths together), optionally cropped to a random window, and trained with the seed's
softmax cross-entropy over identities (default) or a batch-hard triplet loss on the
L2-normalised embedding. It runs `keras.Model.fit`, so Keras callbacks work; they see a
`GaitTrainer` whose `network` attribute is the GaitNN being trained.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from nets.gait_network import pad_sequences
from nets.losses import batch_hard_triplet_loss
from nets.pose_network import FEATURE_CHANNELS, FEATURE_GRID
from nets.trainer import NetworkTrainer

GaitLoss = Literal["softmax", "triplet", "softmax+triplet"]
GaitSchedule = Literal["cosine", "seed"]


class GaitTrainer(NetworkTrainer):
    """Wraps a GaitNN for `fit`. Batches are `({"features", "mask"}, labels (B,))`.

    `"softmax"` needs a model built with `num_identities` and labels in [0, num_identities);
    `"triplet"` uses the `embedding` output and any integer labels; `"softmax+triplet"` sums
    the two (as OpenGait's GaitBase trains), which needs both.
    """

    def __init__(self, network: keras.Model, loss: GaitLoss = "softmax",
                 triplet_margin: float = 0.2, **kwargs):
        if loss not in ("softmax", "triplet", "softmax+triplet"):
            raise ValueError(f"`loss` must be 'softmax', 'triplet' or 'softmax+triplet', got {loss!r}")
        if "softmax" in loss and "logits" not in network.output:
            raise ValueError(f"{loss} training needs GaitNN(num_identities=...)")
        super().__init__(network, **kwargs)
        self.loss_kind = loss
        self.triplet_margin = triplet_margin
        self._cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self._loss_tracker = keras.metrics.Mean(name="loss")
        self._accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self):
        if "softmax" in self.loss_kind:
            return [self._loss_tracker, self._accuracy]
        return [self._loss_tracker]

    def _loss(self, outputs, labels):
        total = 0.0
        if "softmax" in self.loss_kind:
            total += self._cross_entropy(labels, outputs["logits"])
        if "triplet" in self.loss_kind:
            total += batch_hard_triplet_loss(labels, outputs["embedding"], self.triplet_margin)
        return total

    def _update_metrics(self, loss, outputs, labels):
        self._loss_tracker.update_state(loss)
        if "softmax" in self.loss_kind:
            self._accuracy.update_state(labels, outputs["logits"])
        return {metric.name: metric.result() for metric in self.metrics}


class SequenceBatches:
    """Re-iterable source of padded batches `({"features", "mask"}, labels)`.

    Each pass shuffles; sequences of similar length share a batch (sorted within a window
    of 8 batches) so padding stays small. With `identities_per_batch` set, batches are
    P identities x K sequences each (what batch-hard triplet mining needs). `max_frames`
    crops every sequence to a random window of at most that many frames.
    """

    def __init__(
        self,
        sequences: Sequence[np.ndarray],
        labels: Sequence[int],
        *,
        batch_size: int,
        shuffle: bool,
        max_frames: int | None = None,
        identities_per_batch: int | None = None,
        length_multiple: int = 8,
        seed: int = 0,
    ):
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        if not sequences:
            raise ValueError("no sequences")
        for index, sequence in enumerate(sequences):
            if sequence.ndim != 4 or sequence.shape[1:] != (FEATURE_GRID, FEATURE_GRID,
                                                            FEATURE_CHANNELS):
                raise ValueError(f"sequence {index}: expected (T, 17, 17, 32), got "
                                 f"{sequence.shape}")
            if len(sequence) == 0:
                raise ValueError(f"sequence {index} is empty")
        self.sequences = sequences
        self.labels = np.asarray(labels, dtype=np.int32)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.max_frames = max_frames
        self.identities_per_batch = identities_per_batch
        self.length_multiple = length_multiple
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self._batches())

    def _batches(self) -> list[np.ndarray]:
        count = len(self.sequences)
        if self.identities_per_batch:
            return self._identity_batches()
        order = self._rng.permutation(count) if self.shuffle else np.arange(count)
        window = self.batch_size * 8
        lengths = np.array([len(s) for s in self.sequences])
        for start in range(0, count, window):  # similar lengths together, still random
            chunk = order[start : start + window]
            order[start : start + window] = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches = [order[i : i + self.batch_size] for i in range(0, count, self.batch_size)]
        if self.shuffle:
            self._rng.shuffle(batches)
        return batches

    def _identity_batches(self) -> list[np.ndarray]:
        """P x K batches covering every sequence about once per pass.

        A pass holds ceil(sequences / batch_size) batches, so an epoch is a pass over the
        walks (as `epochs` promises), not over the people: with 24 people of 110 walks and
        P = 8, visiting each person once would make 3 steps an epoch and see 4 % of the data.
        Each batch takes the next `identities_per_batch` people of a shuffled cycle over the
        people, and the next K = batch_size // identities_per_batch (at least 2) walks of a
        shuffled cycle over each person's walks (a person with fewer walks repeats some).
        """
        per_identity = max(2, self.batch_size // self.identities_per_batch)
        identities = np.unique(self.labels)
        people_per_batch = min(self.identities_per_batch, len(identities))
        walks = {identity: _Cycle(np.flatnonzero(self.labels == identity), self._rng) for identity in identities}
        people = _Cycle(identities, self._rng)
        count = -(-len(self.sequences) // (people_per_batch * per_identity))
        return [
            np.concatenate([walks[identity].take(per_identity) for identity in people.take(people_per_batch)])
            for _ in range(max(1, count))
        ]

    def __iter__(self) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        for rows in self._batches():
            sequences = [self._window(self.sequences[i]) for i in rows]
            features, mask = pad_sequences(sequences, length_multiple=self.length_multiple)
            yield {"features": features, "mask": mask}, self.labels[rows]

    def _window(self, sequence: np.ndarray) -> np.ndarray:
        if self.max_frames is None or len(sequence) <= self.max_frames:
            return np.asarray(sequence, dtype=np.float32)
        start = self._rng.integers(0, len(sequence) - self.max_frames + 1)
        return np.asarray(sequence[start : start + self.max_frames], dtype=np.float32)

    def dataset(self) -> tf.data.Dataset:
        """A `tf.data.Dataset` over one pass; Keras re-iterates it (and so re-shuffles)
        every epoch. Time is a None dimension, so one trace serves every length."""
        signature = (
            {
                "features": tf.TensorSpec((None, None, FEATURE_GRID, FEATURE_GRID,
                                           FEATURE_CHANNELS), tf.float32),
                "mask": tf.TensorSpec((None, None), tf.bool),
            },
            tf.TensorSpec((None,), tf.int32),
        )
        dataset = tf.data.Dataset.from_generator(self.__iter__, output_signature=signature)
        # A known length lets Keras size its progress bar and stop without warnings.
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self)))


def fit_gait(
    model: keras.Model,
    sequences: Sequence[np.ndarray],
    labels: Sequence[int],
    *,
    epochs: int,
    batch_size: int = 16,
    loss: GaitLoss = "softmax",
    validation: tuple[Sequence[np.ndarray], Sequence[int]] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    optimizer: keras.optimizers.Optimizer | None = None,
    learning_rate: float = 1e-3,
    schedule: GaitSchedule = "cosine",
    max_frames: int | None = None,
    identities_per_batch: int | None = None,
    triplet_margin: float = 0.2,
    seed: int = 0,
    verbose: Literal[0, 1, 2] = 0,
) -> keras.callbacks.History:
    """Trains a GaitNN in place.

    Args:
        model: a `GaitNN`; with `num_identities` for the softmax loss.
        sequences: feature sequences (T_i, 17, 17, 32), HumanPoseNN's `features`.
        labels: integer subject label per sequence (softmax: 0 .. num_identities - 1).
        epochs: passes over the sequences.
        batch_size: sequences per step.
        loss: `"softmax"` (the seed's cross-entropy over identities), `"triplet"`
            (batch-hard, margin `triplet_margin`, on the `embedding` output) or their sum
            `"softmax+triplet"`. Triplet losses need P x K batches: `identities_per_batch`
            subjects (default batch_size // 4) with several sequences each.
        validation: optional `(sequences, labels)`.
        callbacks: Keras callbacks.
        optimizer: default Adam(`learning_rate`) with the seed's gradient clipping (global
            norm 0.1; the seed used RMSProp, one sequence per step) and `schedule`.
        schedule: `"cosine"`: one cosine decay from `learning_rate` to 1 % of it over all the
            epochs' steps; `"seed"`: x0.96 every two passes over the data (staircase).
        identities_per_batch: P of P x K batches (every loss); None: plain shuffled batches.
        max_frames: crop training sequences to random windows of this many frames (a new
            window every pass, so each walk yields many clips).
        seed: shuffling and cropping seed.
        verbose: Keras' progress output.

    Returns:
        The Keras `History` (`loss`, `accuracy` for softmax, and `val_` versions).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("`epochs` and `batch_size` must be >= 1")
    if schedule not in ("cosine", "seed"):
        raise ValueError(f"`schedule` must be 'cosine' or 'seed', got {schedule!r}")
    if "triplet" in loss and identities_per_batch is None:
        identities_per_batch = max(2, batch_size // 4)
    batches = SequenceBatches(
        sequences, labels, batch_size=batch_size, shuffle=True, max_frames=max_frames,
        identities_per_batch=identities_per_batch, seed=seed,
    )
    validation_data = None
    if validation is not None:
        validation_data = SequenceBatches(
            *validation, batch_size=batch_size, shuffle=False
        ).dataset()

    if optimizer is None:
        steps_per_epoch = max(1, len(batches))
        if schedule == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch, alpha=0.01)
        else:
            rate = keras.optimizers.schedules.ExponentialDecay(
                learning_rate, decay_steps=2 * steps_per_epoch, decay_rate=0.96, staircase=True
            )
        optimizer = keras.optimizers.Adam(rate, global_clipnorm=0.1)
    trainer = GaitTrainer(model, loss=loss, triplet_margin=triplet_margin,
                          name=f"{model.name}_trainer")
    # Frame packing has data-dependent shapes, which XLA cannot compile.
    trainer.compile(optimizer=optimizer, jit_compile=False)
    # Creating the optimizer's slots now, eagerly, spares a second trace of the train step.
    trainer.optimizer.build(model.trainable_variables)
    return trainer.fit(
        batches.dataset(),
        epochs=epochs,
        shuffle=False,  # the batches shuffle themselves, every pass
        validation_data=validation_data,
        callbacks=list(callbacks),
        verbose=verbose,
    )


class _Cycle:
    """Endless shuffled passes over `items`; `take(n)` returns n distinct items when there
    are n or more (a pass's tail is completed from the next pass without repeats)."""

    def __init__(self, items: np.ndarray, rng: np.random.Generator):
        self._items = np.asarray(items)
        self._rng = rng
        self._queue: list = []

    def take(self, n: int) -> np.ndarray:
        chosen: list = []
        while len(chosen) < n:
            repeats_allowed = len(chosen) >= len(self._items)
            position = next((i for i, item in enumerate(self._queue) if repeats_allowed or item not in chosen), None)
            if position is None:
                self._queue.extend(self._rng.permutation(self._items).tolist())
                continue
            chosen.append(self._queue.pop(position))
        return np.asarray(chosen)
