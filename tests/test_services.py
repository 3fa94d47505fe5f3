from __future__ import annotations

from prefect import flow


@flow
def _one_flow_run() -> int:
    return 1


def test_a_private_server_session_leaves_no_events_for_its_stopped_server(tmp_path):
    """Events still queued when a private server stops were retried against its dead address
    for minutes, and went on blocking the next session's events; the session now sends them
    before the server stops and leaves no worker bound to it. Its flows send no heartbeats
    (nothing on a private server reads them, and each flow's exit waited for the thread)."""
    from prefect.events.worker import EventsWorker
    from prefect.settings import get_current_settings

    from gaitflow.services import in_process_prefect
    from gaitflow.settings import Settings

    settings = Settings(home=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                        prefect_api_url=None, dask_address=None)
    before = get_current_settings().flows.heartbeat_frequency
    with in_process_prefect(settings) as url:
        assert get_current_settings().flows.heartbeat_frequency is None
        assert _one_flow_run() == 1
        # Prefect's workers are keyed instances; private state, but the only place this shows.
        assert EventsWorker._instances, "the flow run should have started an events worker"
    assert not EventsWorker._instances, f"an events worker still holds work for {url}"
    assert get_current_settings().flows.heartbeat_frequency == before  # restored afterwards
