"""Talking to a running Dagster webserver over GraphQL: find a job, launch a run, reload the
code location (``yaml2dag trigger`` and the hot reload of ``yaml2dag dev``).

Runs are launched with Dagster's own client (:class:`dagster_graphql.DagsterGraphQLClient`),
so a run started this way is exactly a run launched from the UI: queued by the instance's run
coordinator, executed by its run launcher, seen by sensors. Read-only look-ups (locations,
jobs, run config types) are plain GraphQL queries against ``<url>/graphql``.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from yaml2dag.format.errors import Yaml2DagError
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError, ReloadRepositoryLocationStatus
from yaml2dag.format.model import Parameter
from yaml2dag.format.parameters import coerce
from yaml2dag.format.schema import did_you_mean

# where ``yaml2dag trigger`` and ``yaml2dag dev``'s reloader look for the webserver (a setting of
# the format layer: approval gates link to run pages with it too)
from yaml2dag.format.webserver import DEFAULT_URL, URL_ENV  # noqa: F401 - re-exported for the CLI
#: Name of the yaml2dag code location in the shipped workspace.yaml and in ``yaml2dag dev``.
LOCATION_NAME = "yaml2dag"


class RemoteError(Yaml2DagError):
    """The webserver cannot be reached, or refused or failed the request (the message says
    which and why)."""


@dataclass(frozen=True)
class Endpoint:
    """A Dagster webserver.

    Attributes:
        url: its base URL without a trailing slash (``http://127.0.0.1:3000``, or with a path
            prefix ``https://host/dagster``).
        host, port, https, path_prefix: the parts :class:`DagsterGraphQLClient` takes.
    """

    url: str
    host: str
    port: int | None
    https: bool
    path_prefix: str

    @property
    def graphql_url(self) -> str:
        return self.url + "/graphql"

    def run_url(self, run_id: str) -> str:
        """The UI page of a run: ``<url>/runs/<run_id>``."""
        return f"{self.url}/runs/{run_id}"


def parse_url(url: str) -> Endpoint:
    """Read a webserver URL (``http://host:port[/prefix]``; a bare ``host:port`` means http).

    Raises:
        RemoteError: not an http(s) URL with a host.
    """
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"not a webserver URL: {url!r} (expected http://host:port)")
    try:
        port = parts.port
    except ValueError:
        raise RemoteError(f"invalid port in {url!r}") from None
    prefix = parts.path.rstrip("/")
    return Endpoint(text, parts.hostname, port, parts.scheme == "https", prefix)


def client(endpoint: Endpoint, timeout: int = 60):
    """A :class:`dagster_graphql.DagsterGraphQLClient` for ``endpoint``."""
    return DagsterGraphQLClient(endpoint.host, port_number=endpoint.port, use_https=endpoint.https,
                                timeout=timeout, path_prefix=endpoint.path_prefix)


def graphql(endpoint: Endpoint, query: str, variables: Mapping[str, Any] | None = None,
            timeout: float = 30) -> dict[str, Any]:
    """POST one GraphQL query; returns its ``data``.

    Raises:
        RemoteError: connection refused or timed out, an HTTP error, or GraphQL ``errors``.
    """
    # lazy: requests is heavy and optional here; kept off light paths
    import requests

    try:
        response = requests.post(endpoint.graphql_url, json={"query": query, "variables": dict(variables or {})},
                                 timeout=timeout)
    except requests.RequestException as exc:
        raise RemoteError(f"cannot reach the Dagster webserver at {endpoint.url}: {type(exc).__name__} "
                          "(is `yaml2dag dev` or dagster-webserver running there?)") from None
    if response.status_code != 200:
        raise RemoteError(f"{endpoint.graphql_url} answered HTTP {response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError:
        raise RemoteError(f"{endpoint.graphql_url} did not answer JSON: {response.text[:300]}") from None
    if body.get("errors"):
        raise RemoteError("GraphQL error: " + "; ".join(str(e.get("message", e)) for e in body["errors"]))
    return body.get("data") or {}


LOCATIONS_QUERY = """
query yaml2dagLocations {
  workspaceOrError {
    __typename
    ... on Workspace { locationEntries { name loadStatus } }
    ... on PythonError { message }
  }
}
"""

JOBS_QUERY = """
query yaml2dagJobs {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes { name location { name } jobs { name description } }
    }
    ... on PythonError { message }
  }
}
"""

CONFIG_QUERY = """
query yaml2dagRunConfig($selector: PipelineSelector!) {
  runConfigSchemaOrError(selector: $selector) {
    __typename
    ... on RunConfigSchema {
      rootConfigType {
        key
        ... on CompositeConfigType { fields { name configTypeKey } }
      }
    }
    ... on PythonError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""


def location_names(endpoint: Endpoint) -> list[str]:
    """Names of the code locations of the webserver's workspace."""
    data = graphql(endpoint, LOCATIONS_QUERY)["workspaceOrError"]
    if data["__typename"] != "Workspace":
        raise RemoteError(f"cannot list code locations: {data.get('message', data['__typename'])}")
    return [entry["name"] for entry in data["locationEntries"]]


def reload_location(endpoint: Endpoint, name: str) -> None:
    """Reload one code location (Dagster's ``reloadRepositoryLocation`` mutation).

    Raises:
        RemoteError: unreachable, unknown location, or the reloaded code failed to load.
    """
    try:
        with _quiet_gql():
            info = client(endpoint).reload_repository_location(name)
    except DagsterGraphQLClientError as exc:
        raise RemoteError(f"cannot reload {name!r} at {endpoint.url}: {_short(exc)}") from None
    if info.status != ReloadRepositoryLocationStatus.SUCCESS:
        raise RemoteError(f"reloading {name!r} failed ({info.failure_type}): {info.message}")


@dataclass(frozen=True)
class RemoteJob:
    """A job of the webserver's workspace: where it lives and its description."""

    location: str
    repository: str
    name: str
    description: str

    @property
    def title(self) -> str:
        """The first line of the description: the workflow name for yaml2dag jobs."""
        return (self.description or "").strip().splitlines()[0] if (self.description or "").strip() else self.name


def remote_jobs(endpoint: Endpoint) -> list[RemoteJob]:
    """Every job of every loaded repository of the webserver."""
    data = graphql(endpoint, JOBS_QUERY)["repositoriesOrError"]
    if data["__typename"] != "RepositoryConnection":
        raise RemoteError(f"cannot list jobs: {data.get('message', data['__typename'])}")
    return [RemoteJob(node["location"]["name"], node["name"], job["name"], job.get("description") or "")
            for node in data["nodes"] for job in node["jobs"] if not job["name"].startswith("__")]


def find_job(endpoint: Endpoint, ref: str, location: str | None = None) -> RemoteJob:
    """The job ``ref`` names on the webserver: a job name, or a workflow name (the first line
    of a yaml2dag job's description, ignoring case).

    Raises:
        RemoteError: no such job, or several (name the code location with ``location``).
    """
    jobs = [j for j in remote_jobs(endpoint) if location is None or j.location == location]
    matches = [j for j in jobs if j.name == ref] or [j for j in jobs if j.title.casefold() == ref.casefold()]
    if not matches:
        names = sorted({j.name for j in jobs})
        raise RemoteError(f"no job {ref!r} on {endpoint.url}" + did_you_mean(ref, names)
                          + f" (jobs: {', '.join(names) or 'none'})")
    if len(matches) > 1:
        where = ", ".join(f"{j.location}/{j.name}" for j in matches)
        raise RemoteError(f"{ref!r} is in several code locations ({where}); choose one with --location")
    return matches[0]


def config_types(endpoint: Endpoint, job: RemoteJob) -> dict[str, str]:
    """The top-level run config fields of ``job`` → their Dagster config type keys
    (``String``, ``Int``, ``Float``, ``Bool``, ``Array.Int``, an enum's name, ``Permissive...``):
    for a yaml2dag job, its parameters."""
    selector = {"repositoryLocationName": job.location, "repositoryName": job.repository, "pipelineName": job.name}
    data = graphql(endpoint, CONFIG_QUERY, {"selector": selector})["runConfigSchemaOrError"]
    if data["__typename"] != "RunConfigSchema":
        raise RemoteError(f"cannot read the run config of {job.name!r}: {data.get('message', data['__typename'])}")
    fields = (data.get("rootConfigType") or {}).get("fields") or []
    return {f["name"]: f["configTypeKey"] for f in fields}


def coerce_remote(name: str, raw: str, type_key: str | None) -> Any:
    """A ``key=value`` string as the config type the server declares for ``name``.

    ``Int``/``Float``/``Bool`` are converted like ``yaml2dag run`` converts integers, numbers
    and booleans; arrays and permissive mappings are read as JSON; anything else stays a
    string (the server checks the value again).

    Raises:
        yaml2dag.format.errors.ParameterError: the text is not of that type.
    """
    key = type_key or "String"
    if key == "Int":
        ptype = "integer"
    elif key == "Float":
        ptype = "number"
    elif key == "Bool":
        ptype = "boolean"
    elif key.startswith("Array"):
        ptype = "array"
    elif key.startswith("Permissive") or key.startswith("Shape"):
        ptype = "object"
    else:
        return raw
    return coerce(Parameter(name=name, type=ptype), raw)


def launch(endpoint: Endpoint, job: RemoteJob, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    """Submit a run of ``job`` with ``run_config`` and ``tags``; returns the run id.

    Raises:
        RemoteError: unreachable, invalid run config (the server's messages), or refused.
    """
    try:
        with _quiet_gql():
            return client(endpoint).submit_job_execution(job.name, repository_location_name=job.location,
                                                         repository_name=job.repository,
                                                         run_config=dict(run_config), tags=dict(tags))
    except DagsterGraphQLClientError as exc:
        raise RemoteError(f"the webserver did not start {job.name!r}: {_short(exc)}") from None


@contextlib.contextmanager
def _quiet_gql():
    """Silence the DeprecationWarning gql raises for how DagsterGraphQLClient calls it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="gql")
        yield


def _short(exc: Exception) -> str:
    """A one-line message for a :class:`DagsterGraphQLClientError` (its type, then the
    server's messages; the query text the client appends is dropped)."""
    parts: list[str] = []
    for arg in list(getattr(exc, "args", ())) + [getattr(exc, "body", None)]:
        if not arg:
            continue
        if isinstance(arg, (list, tuple)):
            parts.append("; ".join(x.get("message", json.dumps(x)) if isinstance(x, dict) else str(x) for x in arg))
        elif isinstance(arg, dict):
            parts.append(str(arg.get("message", json.dumps(arg))))
        else:
            parts.append(str(arg).split("occured during execution")[0].strip())
    return ": ".join(p for p in parts if p) or type(exc).__name__
