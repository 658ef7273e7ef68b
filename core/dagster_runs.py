"""Submitting runs to the Dagster webserver, for work an owner asks for now.

Campaign "Send now" and segment "Refresh" hand their work to Dagster when it is configured,
so operators see it in the UI. The webserver's GraphQL API is used rather than
``DagsterInstance.submit_run``: the latter would load the code location inside the API or
app process. A caller that cannot reach Dagster falls back to doing the work itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import InvalidInput
from core.settings import Settings

DAGSTER_TIMEOUT_SECONDS = 10

_REPOSITORIES = """
query SiaranRepositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
    ... on Error { message }
  }
}"""

_ADD_PARTITION = """
mutation SiaranAddPartition($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name,
                      partitionKey: $key) {
    __typename
    ... on Error { message }
  }
}"""

_PARTITION_THERE = ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError")

_LAUNCH = """
mutation SiaranLaunch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}"""


def dagster_url(settings: Settings) -> str | None:
    """The Dagster webserver to submit runs to, or None when Dagster is not configured."""
    if settings.dagster_url:
        return settings.dagster_url.rstrip("/")
    if settings.dagster_home is not None:
        return f"http://{settings.api_host}:{settings.dagster_port}"
    return None


def submit_run(
    url: str,
    job: str,
    *,
    run_config: dict[str, Any],
    tags: dict[str, str],
    partition: tuple[str, str] | None = None,
) -> str:
    """Launch ``job`` on the webserver at ``url``; its run id.

    ``partition`` is (dynamic partitions definition, key): the key is added first if it is
    missing, so a partition created since the last sensor tick can run at once.
    """
    if not urlsplit(url).hostname:
        raise InvalidInput(f"SIARAN_DAGSTER_URL {url!r} has no host.")
    endpoint = url.rstrip("/") + "/graphql"
    with httpx.Client(timeout=DAGSTER_TIMEOUT_SECONDS) as client:
        selector = _repository_with(client, endpoint, job)
        if partition is not None:
            name, key = partition
            added = _graphql(
                client, endpoint, _ADD_PARTITION, {"selector": selector, "name": name, "key": key}
            )["addDynamicPartition"]
            if added["__typename"] not in _PARTITION_THERE:
                raise RuntimeError(f"Dagster did not add partition {key}: {added.get('message')}")
        params = {
            "selector": {**selector, "jobName": job},
            "runConfigData": run_config,
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        launched = _graphql(client, endpoint, _LAUNCH, {"params": params})["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        problems = launched.get("message") or launched.get("errors")
        raise RuntimeError(f"Dagster did not launch the run ({launched['__typename']}: {problems})")
    return str(launched["run"]["runId"])


def _repository_with(client: httpx.Client, endpoint: str, job: str) -> dict[str, str]:
    answer = _graphql(client, endpoint, _REPOSITORIES, {})["repositoriesOrError"]
    if answer["__typename"] != "RepositoryConnection":
        raise RuntimeError(f"Dagster could not list its code: {answer.get('message')}")
    for node in answer["nodes"]:
        if any(candidate["name"] == job for candidate in node["jobs"]):
            return {
                "repositoryLocationName": node["location"]["name"],
                "repositoryName": node["name"],
            }
    raise RuntimeError(f"No code location loaded in Dagster has the job {job!r}.")


def _graphql(
    client: httpx.Client, endpoint: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = client.post(endpoint, json={"query": query, "variables": variables})
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
    return body["data"]
