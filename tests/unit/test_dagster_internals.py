"""Contract of yaml2dag.dagster_internals: every private Dagster name yaml2dag uses exists in the
installed Dagster and has the signature, members and attributes yaml2dag relies on.

A Dagster upgrade that moves or changes one of these names fails here, in one place, before any
run does. One test per name (or per group of names used together). No Dagster run is started.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import dagster as dg
import pytest

from yaml2dag import dagster_internals as di


def _params(fn) -> set[str]:
    return set(inspect.signature(fn).parameters)


def _positional(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_module_imports_no_yaml2dag_module_and_only_names_it_declares():
    source = Path(di.__file__).read_text(encoding="utf-8")
    assert "from yaml2dag" not in source and "import yaml2dag" not in source
    for name in di.__all__:
        assert getattr(di, name) is not None, name


def test_no_other_module_of_yaml2dag_names_a_private_dagster_module():
    root = Path(di.__file__).parent
    found = [f"{path.relative_to(root.parent)}:{n}: {line.strip()}"
             for path in sorted(root.rglob("*.py")) if path != Path(di.__file__)
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if any(word in line for word in ("dagster._", "dagster_shared", "dagster_celery._", "dagster_postgres._"))]
    assert not found, "take private Dagster names from yaml2dag/dagster_internals.py:\n" + "\n".join(found)


def test_slow_modules_are_imported_on_first_use_only():
    import importlib.util

    # a fresh copy of the module: its slow names are not bound until first asked for
    spec = importlib.util.spec_from_file_location("_fresh_dagster_internals", di.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    assert {"KeyValueStoreTable", "ExecuteStepArgs"}.isdisjoint(vars(fresh))
    assert fresh.KeyValueStoreTable.name == "kvs" and "KeyValueStoreTable" in vars(fresh)
    assert "job_origin" in fresh.ExecuteStepArgs._fields and "ExecuteStepArgs" in vars(fresh)


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        di.NoSuchName  # noqa: B018


@pytest.mark.parametrize("name", ["DagsterEventType", "QueuedRunCoordinator", "SubmitRunContext", "DagsterRun",
                                  "DefaultRunLauncher", "RunStatusChangeRecordsFilter", "build_reconstructable_job",
                                  "Executor", "DagsterEvent", "DagsterExecutionInterruptedError"])
def test_the_public_names_used_instead_are_public(name):
    # if one of these ever leaves `dagster`'s top level, its import moves into dagster_internals
    assert hasattr(dg, name)


def test_engine_event_data():
    data = di.EngineEventData(metadata={"k": dg.MetadataValue.text("v")})
    assert data.metadata["k"].value == "v"
    assert {"metadata", "marker_end", "error"} <= _params(di.EngineEventData)
    assert di.EngineEventData({"pid": 1}, marker_end="celery_queue_wait").marker_end == "celery_queue_wait"
    assert callable(di.EngineEventData.in_process) and callable(di.EngineEventData.interrupted)
    assert di.EngineEventData.interrupted(["a"]).metadata


def test_job_failure_data_and_run_failure_reason():
    data = di.JobFailureData(error=None, failure_reason=di.RunFailureReason.UNEXPECTED_TERMINATION)
    assert data.failure_reason == di.RunFailureReason.UNEXPECTED_TERMINATION


def test_step_failure_and_retry_data():
    error = di.SerializableErrorInfo(message="lost", stack=[], cls_name="WorkerLost")
    assert di.StepFailureData(error=error, user_failure_data=None).error.message == "lost"
    assert di.StepRetryData(error=error, seconds_to_wait=2).seconds_to_wait == 2
    assert callable(dg.DagsterEvent.step_retry_event) and callable(dg.DagsterEvent.step_failure_event)


def test_serializable_error_info_from_exc_info():
    try:
        raise ValueError("boom")
    except ValueError:
        info = di.serializable_error_info_from_exc_info(sys.exc_info())
    assert isinstance(info, di.SerializableErrorInfo)
    assert info.cls_name == "ValueError" and "boom" in info.message


def test_evaluation_error_makes_a_dagster_invalid_config_error():
    message = "parameter `count` (path root:count): 9 is greater than the maximum 5"
    error = di.EvaluationError(
        stack=di.EvaluationStackRoot().for_field("count"),
        reason=di.DagsterEvaluationErrorReason.FAILED_POST_PROCESSING,
        message=message,
        error_data=di.SerializableErrorInfo(message=message, stack=[], cls_name="ParameterError"),
    )
    raised = dg.DagsterInvalidConfigError("Error in config for job deploy", [error], {"count": 9})
    assert message in str(raised) and raised.errors == [error]


def test_validate_config():
    checked = di.validate_config(dg.Field(dg.Shape({"queue": str})).config_type, {"queue": 3})
    assert not checked.success and checked.errors and all(e.message for e in checked.errors)
    assert di.validate_config(dg.Field(dg.Shape({"queue": str})).config_type, {"queue": "q"}).success


def test_executor_plan_machinery():
    assert issubclass(di.MultiprocessExecutor, dg.Executor)
    assert {"execution_plan", "iterator", "execution_context_manager"} <= _params(di.ExecuteRunWithPlanIterable)
    assert {"job", "retry_mode", "execution_plan", "run_config", "dagster_run", "instance", "raise_on_error",
            "output_capture"} <= _params(di.PlanExecutionContextManager)
    for attr in ("job", "retry_mode", "execution_plan", "run_config", "dagster_run", "instance", "raise_on_error",
                 "output_capture", "run_id", "step_dependency_config"):
        assert hasattr(di.PlanOrchestrationContext, attr), attr
    for attr in ("instance", "dagster_run", "run_id", "retry_mode", "step_dependency_config", "for_step"):
        assert hasattr(di.PlanExecutionContext, attr), attr
    assert {"retry_mode", "max_concurrent", "tag_concurrency_limits", "instance_concurrency_context",
            "step_dependency_config"} <= _params(di.ExecutionPlan.start)
    assert hasattr(di.ExecutionPlan, "get_steps_to_execute_in_topo_order")
    assert {"instance", "dagster_run"} <= _params(di.InstanceConcurrencyContext)
    assert hasattr(di.InstanceConcurrencyContext, "has_pending_claims")
    assert isinstance(di.create_compute_log_file_key(), str)
    assert _positional(di.dagster_event_sequence_for_step)[0] == "step_context"
    assert _positional(di.trigger_hook)[:2] == ["step_context", "step_event_list"]


def test_sqlite_event_log_storages_and_pool_claims(tmp_path):
    # yaml2dag.compiler.pool_claims wraps these two methods and recognises these storages
    assert _positional(di.InstanceConcurrencyContext.claim)[:4] == ["self", "concurrency_key", "step_key",
                                                                     "step_priority"]
    assert _positional(di.InstanceConcurrencyContext.free_step)[:2] == ["self", "step_key"]
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.event_log_storage, di.SqliteEventLogStorage)
        assert instance.root_directory == str(tmp_path)
    assert issubclass(di.ConsolidatedSqliteEventLogStorage, object)
    assert hasattr(di.ConsolidatedSqliteEventLogStorage, "claim_concurrency_slot")


def test_retry_mode():
    mode = di.RetryMode.from_config({"enabled": {}})
    assert mode == di.RetryMode.ENABLED and not mode.disabled
    assert di.RetryMode.DISABLED.disabled
    assert isinstance(mode.for_inner_plan(), di.RetryMode)


def test_run_and_step_execution_functions():
    assert _positional(di.execute_run_iterator)[:3] == ["job", "dagster_run", "instance"]  # called positionally
    assert {"job", "run_config", "step_keys_to_execute", "known_state"} <= _params(di.create_execution_plan)
    assert {"execution_plan", "job", "dagster_run", "instance", "retry_mode", "run_config"} <= _params(
        di.execute_plan_iterator)


@dg.op
def _noop() -> None:
    pass


@dg.job
def contract_job():
    _noop()


def _contract_job():
    return contract_job


def test_reconstructable_job_round_trips_as_a_dict():
    recon = dg.build_reconstructable_job(__name__, "_contract_job")
    assert isinstance(recon, di.ReconstructableJob)
    assert recon.get_definition().name == "contract_job"
    back = di.ReconstructableJob.from_dict(recon.to_dict())
    assert back.to_dict() == recon.to_dict()


def test_execute_step_args_pack_and_unpack(instance):
    origin = dg.build_reconstructable_job(__name__, "_contract_job").get_python_origin()
    args = di.ExecuteStepArgs(job_origin=origin, run_id="r1", step_keys_to_execute=["s"],
                              instance_ref=instance.get_ref(), retry_mode=di.RetryMode.ENABLED,
                              known_state=None, print_serialized_events=True)
    packed = di.pack_value(args)
    assert isinstance(packed, dict)
    back = di.unpack_value(packed, as_type=di.ExecuteStepArgs)
    assert back.run_id == "r1" and back.step_keys_to_execute == ["s"] and back.print_serialized_events
    assert dg.deserialize_value(dg.serialize_value(args), di.ExecuteStepArgs).run_id == "r1"


def test_event_log_cursor_from_storage_id():
    cursor = di.EventLogCursor.from_storage_id(41).to_string()
    assert isinstance(cursor, str)
    assert di.EventLogCursor.parse(cursor).storage_id() == 41


def test_dynamic_collect_dependency_in_a_graph():
    @dg.op(out=dg.DynamicOut(int))
    def fan():
        yield dg.DynamicOutput(1, mapping_key="a")

    @dg.op
    def each(x: int) -> int:
        return x

    @dg.op
    def gather(results: list) -> int:
        return len(results)

    graph = dg.GraphDefinition(
        name="g", node_defs=[fan, each, gather],
        dependencies={"each": {"x": dg.DependencyDefinition("fan", "result")},
                      "gather": {"results": di.DynamicCollectDependencyDefinition("each", "result")}})
    assert dg.JobDefinition(graph_def=graph, name="j").graph.name == "g"


def test_pickled_object_filesystem_io_manager(tmp_path):
    assert "dump_to_path" in vars(di.PickledObjectFilesystemIOManager) or hasattr(
        di.PickledObjectFilesystemIOManager, "dump_to_path")
    assert {"context", "obj", "path"} <= _params(di.PickledObjectFilesystemIOManager.dump_to_path)
    manager = di.PickledObjectFilesystemIOManager(base_dir=str(tmp_path))
    assert isinstance(manager, dg.IOManager)


def test_check_run_health_result():
    result = di.CheckRunHealthResult(di.WorkerStatus.FAILED, "gone")
    assert result.status == di.WorkerStatus.FAILED and result.msg == "gone"
    assert di.WorkerStatus.RUNNING != di.WorkerStatus.FAILED
    assert "result" not in _params(dg.DefaultRunLauncher.check_run_worker_health)
    assert _positional(dg.DefaultRunLauncher.check_run_worker_health) == ["self", "run"]


def test_flag_interrupt_and_pop_captured_interrupt():
    assert di.pop_captured_interrupt() is False
    di.flag_interrupt()
    assert di.pop_captured_interrupt() is True
    assert di.pop_captured_interrupt() is False


def test_key_value_store_table_deletes_run_storage_keys(instance):
    storage = instance.run_storage
    storage.set_cursor_values({"yaml2dag/r1/step/a": "1", "yaml2dag/r2/step/a": "2"})
    with storage.connect() as conn:
        conn.execute(di.KeyValueStoreTable.delete().where(di.KeyValueStoreTable.c.key.like("yaml2dag/r1/%")))
    assert storage.get_cursor_values({"yaml2dag/r1/step/a", "yaml2dag/r2/step/a"}) == {"yaml2dag/r2/step/a": "2"}
