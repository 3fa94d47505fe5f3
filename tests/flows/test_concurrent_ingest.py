"""Two real `gaitflow ingest` processes on one store at once, and the ports a real run opens."""

from __future__ import annotations

import ipaddress
import shutil
import time

import numpy as np
import psutil

from storage.frames import FrameSpec
from storage.ingest import ingest_sequence
from storage.manifest import discover
from storage.store import SequenceStore
from tests.flows.test_ingest_flow import _cli
from tests.videos import moving_square_frames, write_video


def _listening_addresses(roots: list[psutil.Process]) -> set[tuple[str, int, int]]:
    """(address, port, pid) of every listening TCP socket of the process trees under `roots`."""
    pids = set()
    for root in roots:
        try:
            pids.update([root.pid, *(child.pid for child in root.children(recursive=True))])
        except psutil.NoSuchProcess:
            continue
    return {
        (connection.laddr.ip, connection.laddr.port, connection.pid)
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids
    }


def test_two_ingests_on_one_store_leave_every_sequence_as_a_single_writer_would(tmp_path):
    """The second run used to clear the first run's staging folder: a sequence kept 1 of 4 chunks."""
    everything = tmp_path / "all"
    for number in range(1, 7):
        write_video(everything / "video" / f"00{number}-nm-01-090.avi",
                    moving_square_frames(40, 96, 128, seed=number), fps=25)
    first_archive, second_archive = tmp_path / "first", tmp_path / "second"
    for archive, numbers in ((first_archive, (1, 2, 3, 4)), (second_archive, (3, 4, 5, 6))):
        (archive / "video").mkdir(parents=True)
        for number in numbers:
            name = f"00{number}-nm-01-090.avi"
            shutil.copy(everything / "video" / name, archive / "video" / name)

    store_path = tmp_path / "store.zarr"
    args = ["--store", str(store_path), "--frame-size", "48", "--chunk-frames", "8", "--workers", "1",
            "--in-process-sequences", "0", "--json"]  # on Dask: its ports are checked below
    runs = [_cli(tmp_path / "home", "ingest", str(archive), *args) for archive in (first_archive, second_archive)]
    roots = [psutil.Process(run.pid) for run in runs]
    listening: set[tuple[str, int, int]] = set()
    deadline = time.monotonic() + 300
    while any(run.poll() is None for run in runs) and time.monotonic() < deadline:
        listening |= _listening_addresses(roots)
        time.sleep(0.2)
    outputs = [run.communicate(timeout=60) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err[-3000:]

    # Every port of both runs (Prefect server, Dask scheduler, workers, nannies, dashboards).
    assert len({port for _, port, _ in listening}) >= 4, listening
    wide = {entry for entry in listening if not ipaddress.ip_address(entry[0]).is_loopback}
    assert not wide, f"listening beyond loopback: {wide}"

    reference = SequenceStore(tmp_path / "reference.zarr", create=True)
    spec = FrameSpec(size=48)
    for entry in discover(str(everything), "casia-b", with_hashes=True).entries:
        ingest_sequence(reference, entry, spec, layout="casia-b", chunk_frames=8)
    store = SequenceStore(store_path)
    assert store.sequence_ids() == reference.sequence_ids() == [f"00{n}-nm-01-090" for n in range(1, 7)]
    for sequence_id in reference.sequence_ids():
        expected, stored = reference.open_sequence(sequence_id), store.open_sequence(sequence_id)
        assert sorted(stored.array_keys()) == sorted(expected.array_keys())
        for name in expected.array_keys():
            np.testing.assert_array_equal(stored[name][:], expected[name][:], err_msg=f"{sequence_id}/{name}")
    assert not any((store_path / "_staging").iterdir())
