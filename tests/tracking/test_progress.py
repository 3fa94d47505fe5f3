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


def test_work_inside_dask_workers_reports_through_the_event_log():
    import time

    from distributed import Client

    from tracking.progress import forwarded_worker_events, worker_events

    def chunked_work(item: str) -> str:
        send = worker_events("test-frames")
        for _ in range(3):
            send(item, 2)
        return item

    seen = []
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client, \
            reporting_to(lambda *update: seen.append(update)):
        with forwarded_worker_events(client, "test-frames", "features (frames)", 12):
            assert client.gather(client.map(chunked_work, ["a", "b"])) == ["a", "b"]
            deadline = time.monotonic() + 20
            while (not seen or seen[-1][1] < 12) and time.monotonic() < deadline:
                time.sleep(0.05)
    assert seen[0] == ("features (frames)", 0, 12, "")
    assert [done for _, done, _, _ in seen] == list(range(0, 13, 2))
    assert {item for *_, item in seen[1:]} == {"a", "b"}
    worker_events("test-frames")("outside a worker", 1)  # no worker: nothing to send, no error


def test_work_on_threads_of_the_watchers_process_reports_straight_to_it():
    """A stage with few sequences runs its tasks on this process's threads, not on Dask workers."""
    import contextvars
    import threading

    from tracking.progress import forwarded_worker_events, worker_events

    seen = []
    with reporting_to(lambda *update: seen.append(update)):
        with forwarded_worker_events(None, "test-frames", "features (frames)", 5):
            send = worker_events("test-frames")
            context = contextvars.copy_context()  # what a task runner's thread inherits
            thread = threading.Thread(target=context.run, args=(lambda: [send("a", 2), send("b", 4)],))
            thread.start()
            thread.join()
        worker_events("test-frames")("after the block", 1)  # nobody forwards it any more
    assert seen == [("features (frames)", 0, 5, ""), ("features (frames)", 2, 5, "a"), ("features (frames)", 5, 5, "b")]
