"""`mcc sync [SOURCE] [--stream S] [--queue [--wait]]`: read sources now, in this process with a
progress display, or by queueing a refresh request for the running worker."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from collectors import jobs, mapping
from collectors.refresh import refresh_status, request_refresh
from collectors.sync import SyncResult, sync_stream
from mcc.cli.actor import AsUser, cli_actor
from mcc.config import Config, SourceConfig
from mcc.context import open_context
from mcc.errors import ConfigError, MccError
from store.types import utcnow

MAX_PARALLEL_SOURCES = 4


def _plan(config: Config, source: str | None, streams: list[str]) -> list[tuple[SourceConfig, list[str]]]:
    """Which streams of which sources to run: the named source (even if disabled) or every enabled one."""
    chosen = [config.source(source)] if source else [s for s in config.sources if s.enabled]
    if not chosen:
        raise ConfigError(f"no enabled sources in {config.path or 'mcc.toml'}; add a [[sources]] entry")
    plan = []
    for source_config in chosen:
        known = list(source_config.collector.streams)
        wanted = [s for s in streams if s in known] if streams else known
        if source and streams and len(wanted) < len(streams):
            missing = sorted(set(streams) - set(known))
            raise ConfigError(
                f"source {source_config.name!r} has no stream {missing[0]!r} (streams: {', '.join(known)})"
            )
        if wanted:
            plan.append((source_config, wanted))
    if not plan:
        raise ConfigError(f"no configured source has the stream(s) {', '.join(streams)}")
    return plan


def _run_source(
    engine: Engine, source_config: SourceConfig, streams: list[str], progress: Progress, task: TaskID
) -> list[SyncResult]:
    results = []
    done_records = done_pages = 0
    for stream in streams:

        def report(
            _stream: str,
            records: int,
            pages: int,
            base_records: int = done_records,
            base_pages: int = done_pages,
        ) -> None:
            progress.update(task, records=base_records + records, pages=base_pages + pages, stream=_stream)

        result = sync_stream(engine, source_config, stream, trigger="cli", progress=report)
        jobs.note_unscheduled_run(
            engine, source_config, stream, ok=result.ok, error=result.error, now=utcnow()
        )
        done_records += result.records
        done_pages += result.pages
        results.append(result)
        progress.update(task, records=done_records, pages=done_pages, advance=1)
    failed = any(not r.ok for r in results)
    progress.update(task, status="[red]failed" if failed else "[green]ok")
    return results


def _results_table(results: list[SyncResult]) -> Table:
    table = Table("source", "stream", "status", "records", "pages", "seconds", "error")
    for result in results:
        table.add_row(
            result.source,
            result.stream,
            "[yellow]suspicious[/yellow]"
            if result.suspicious
            else "ok"
            if result.ok
            else "[red]failed[/red]",
            str(result.records),
            str(result.pages),
            f"{result.seconds:.1f}",
            result.error or "",
        )
    return table


def _print_coverage(console: Console, results: list[SyncResult]) -> None:
    """What no mapping counts, and the records a source skipped, so nothing billable goes unseen."""
    for result in results:
        if result.uncovered:
            table = Table(
                "metric",
                "attribute",
                "value",
                "units",
                title=f"{result.source}: reported but counted by no mapping",
            )
            for row in result.uncovered:
                table.add_row(str(row["metric"]), str(row["attr"]), str(row["value"]), str(row["quantity"]))
            console.print(table)
            console.print(
                f"Map them to a product in the book ([[mappings]] with source = {result.source!r}) "
                "or leave them out on purpose."
            )
        for notice in result.notices:
            console.print(f"[yellow]{result.source}/{result.stream}: {notice}[/yellow]")


def _print_first_sync(console: Console, orgs: list[mapping.UnmappedOrg], source: str) -> None:
    if not orgs:
        return
    table = Table("external id", "organisation", "suggested client", "score", title=f"{source}: first sync")
    for org in orgs:
        score = "" if org.score is None else f"{org.score}{' (tie)' if org.ambiguous else ''}"
        table.add_row(org.external_id, org.name, org.suggested_client or "", score)
    console.print(table)
    console.print(
        f"{len(orgs)} organisation(s) of {source} have no client yet. Accept the suggestions with\n"
        f"  mcc orgs map --accept-suggestions --source {source} [--min-score {mapping.DEFAULT_MIN_SCORE}]\n"
        f'or map one with  mcc orgs map {source} EXTERNAL_ID "Client Name"'
    )


def _print_contract_changes(
    console: Console,
    engine: Engine,
    config: Config,
    plan: list[tuple[SourceConfig, list[str]]],
    results: list[SyncResult],
) -> None:
    """For each PSA whose agreements were read, what they would change in the book (applied only by
    `mcc contracts sync`)."""
    from mcc.psa_contracts import changes_found

    for source_config, _ in plan:
        streams = source_config.collector.streams
        read = [r for r in results if r.source == source_config.name and r.ok and streams[r.stream].contracts]
        if not read:
            continue
        try:
            notice = changes_found(engine, config, source_config.name)
        except MccError as error:
            console.print(
                f"{source_config.name}: could not compare the PSA's contracts with the book: {error}"
            )
            continue
        if notice:
            console.print(f"{source_config.name}: {notice}", markup=False)


def _queue(source: str | None, wait: bool, timeout: float, as_user: str | None) -> None:
    context = open_context()
    actor = cli_actor(context, as_user)
    request = request_refresh(context.engine, actor, source, config=context.config)
    console = Console()
    console.print(f"queued refresh request #{request.id} for {source or 'every source'}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    status = refresh_status(context.engine, request.id)
    while not status.finished:
        if time.monotonic() > deadline:
            console.print(f"request #{request.id} is still {status.status}; is `mcc worker` running?")
            raise typer.Exit(1)
        time.sleep(0.5)
        status = refresh_status(context.engine, request.id)
    console.print(f"request #{status.id} {status.status}: {status.records} records")
    table = Table("source", "stream", "status", "records", "pages", "error")
    for run in status.runs:
        table.add_row(run.source, run.stream, run.status, str(run.records), str(run.pages), run.error or "")
    console.print(table)
    if status.status == "failed":
        raise typer.Exit(1)


def sync_command(
    source: str | None = typer.Argument(
        None, help="A source name from mcc.toml; default: every enabled one."
    ),
    stream: list[str] = typer.Option([], "--stream", "-s", help="Only this stream (repeatable)."),
    queue: bool = typer.Option(
        False, "--queue", help="Queue a refresh request for the running worker instead of reading here."
    ),
    wait: bool = typer.Option(False, "--wait", help="With --queue: wait for the worker to finish it."),
    timeout: float = typer.Option(600.0, "--timeout", help="With --wait: give up after this many seconds."),
    as_user: AsUser = None,
) -> None:
    """Read sources now and store what they report; exits 1 if any source failed."""
    if queue:
        if stream:
            raise ConfigError("--queue refreshes whole sources; leave out --stream")
        _queue(source, wait, timeout, as_user)
        return
    context = open_context()
    plan = _plan(context.config, source, stream)
    engine = context.engine
    first = {sc.name for sc, _ in plan if mapping.successful_runs(engine, sc.name) == 0}
    err = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<20}"),
        BarColumn(),
        TextColumn("{task.fields[records]:>8} records {task.fields[pages]:>5} pages {task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=not err.is_terminal) as progress:
        tasks = {
            sc.name: progress.add_task(sc.name, total=len(streams), records=0, pages=0, status="", stream="")
            for sc, streams in plan
        }
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_SOURCES, len(plan))) as pool:
            futures = [
                pool.submit(_run_source, engine, sc, streams, progress, tasks[sc.name])
                for sc, streams in plan
            ]
            results = [result for future in futures for result in future.result()]
    console = Console()
    console.print(_results_table(results))
    _print_coverage(console, results)
    for sc, _ in plan:
        ok = any(r.ok for r in results if r.source == sc.name)
        if sc.name in first and ok:
            _print_first_sync(
                console, mapping.first_sync_suggestions(engine, context.config, sc.name), sc.name
            )
    _print_contract_changes(console, engine, context.config, plan, results)
    context.dispose()
    if any(not result.ok for result in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
