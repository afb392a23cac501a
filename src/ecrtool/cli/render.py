"""The one renderer: results as lines and tables for people, as JSON for scripts; push/pull progress.

rich is imported only when a table or a progress bar is drawn.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

import click

from ecrtool.cli.formats import json_text, login_text, to_jsonable, when

if TYPE_CHECKING:
    from ecrtool.model.listing import ImageListing
    from ecrtool.model.results import (
        ConfigureDockerResult,
        CopyResult,
        CreateResult,
        DeleteImagesResult,
        DeleteRepositoryResult,
        DoctorReport,
        ImageInfo,
        LoginResult,
        Progress,
        ProgressEvent,
        PullResult,
        PushResult,
        RepositoryInfo,
        RetagResult,
        RunResult,
        SettingsReport,
        TagResult,
        UserData,
    )


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} PB"


def _setting_text(value: str | bool | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


PLAIN_WIDTH = 200  # columns of a table written to a file or a pipe


def plain_table(title: str, headers: list[str], rows: list[list[str]], width: int) -> Iterator[str] | None:
    """The lines rich prints for this table when it is not on a terminal, made without rich; None when
    the table needs rich (wider than WIDTH, or text whose width is not its length).

    For a listing of thousands of images rich's layout grows slow and holds every cell's rendering;
    this holds nothing but the rows (BENCHMARKS.md: long listings).
    """
    widths = [len(header) for header in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if not (cell.isascii() and cell.isprintable()):
                return None
            widths[i] = max(widths[i], len(cell))
    total = sum(widths) + 2 * (len(widths) - 1)
    if total > width or len(title) > total or not (title.isascii() and title.isprintable()):
        return None

    def lines() -> Iterator[str]:
        yield title.ljust(total)
        for row in itertools.chain([headers], rows):
            yield "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))

    return lines()


class Renderer:
    def __init__(self, output: str = "text", quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None):
        self.json = output == "json"
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._bars: _Bars | None = None  # the live progress display, while one is drawn

    def line(self, text: str = "") -> None:
        click.echo(text, file=self.out)

    def note(self, text: str) -> None:
        """A remark for people, on stderr so stdout stays the result; silent with --quiet or JSON."""
        if not self.quiet and not self.json:
            click.echo(text, file=self.err)

    def emit_json(self, value: Any) -> None:
        if isinstance(value, list) and value:
            # a listing goes out an item at a time, the same text json.dumps would give for the whole:
            # thousands of images never sit in memory as one document
            for n, item in enumerate(value):
                text = json.dumps(to_jsonable(item), indent=2, sort_keys=False).replace("\n", "\n  ")
                click.echo(("[\n  " if n == 0 else ",\n  ") + text, file=self.out, nl=False)
            click.echo("\n]", file=self.out)
            return
        click.echo(json_text(value), file=self.out)

    # -- results ----------------------------------------------------------------------------------

    def created(self, result: CreateResult) -> None:
        if self.json:
            return self.emit_json(result)
        self.note(("Created repository " if result.created else "Repository exists: ") + result.repository.name)
        self.line(result.repository.uri)

    def logged_in(self, result: LoginResult) -> None:
        text = login_text(result, json=self.json, quiet=self.quiet)
        if text is not None:
            self.line(text)

    def tagged(self, result: TagResult) -> None:
        if self.json:
            return self.emit_json(result)
        for reference in result.references:
            self.line(reference)

    def pushed(self, result: PushResult) -> None:
        if self.json:
            return self.emit_json(result)
        if result.created_repository:
            self.note(f"Created repository {result.repository}")
        for reference in result.already_there:
            self.note(f"{reference} was already there: the repository's tags are immutable, and it names this image")
        for reference in result.references:
            self.line(reference)
        if result.digest:
            self.line(f"digest: {result.digest}")

    def copied(self, result: CopyResult) -> None:
        if self.json:
            return self.emit_json(result)
        for copy in result.copies:
            if copy.created_repository:
                self.note(f"Created repository {copy.repository}")
            if copy.already_there:
                self.note(f"{copy.reference} already holds {copy.digest}")
            self.line(copy.reference)
        self.line(f"digest: {result.digest}")

    def retagged(self, result: RetagResult) -> None:
        if self.json:
            return self.emit_json(result)
        for reference in result.already_there:
            self.note(f"{reference} was already there")
        for reference in result.references:
            self.line(reference)
        if not self.quiet:
            self.line(f"digest: {result.digest}")

    def pulled(self, result: PullResult) -> None:
        if self.json:
            return self.emit_json(result)
        self.line(result.reference)
        if result.digest and not self.quiet:
            self.line(f"digest: {result.digest}")

    def image_listing(self, repository: str, listing: ImageListing) -> None:
        """The images, then for people (on stderr, so what scripts parse stays as it was) the total."""
        self.images(repository, listing.images)
        self.note(f"{listing.filter.count(len(listing.images))}, {human_size(listing.total_bytes)}")
        if listing.manifests_unread:
            self.note(
                "ecr:BatchGetImage was denied, so an index's children and an image's referrers may be listed"
                " as images of their own: allow it to fold them in"
            )

    def images(self, repository: str, images: list[ImageInfo]) -> None:
        if self.json:
            return self.emit_json(images)
        if self.quiet:
            for image in images:
                self.line(image.digest)
            return
        rows = [
            [", ".join(i.tags) or "<untagged>", i.digest, human_size(i.size_bytes), when(i.pushed_at)] for i in images
        ]
        headers = ["TAGS", "DIGEST", "SIZE", "PUSHED AT"]
        # the last recorded pull where ECR recorded one, the status and storage class where an image is in the
        # archive; like PLATFORMS, columns only where they say something
        if any(image.last_pulled_at for image in images):
            headers.append("LAST PULL")
            for row, image in zip(rows, images, strict=True):
                row.append(when(image.last_pulled_at) if image.last_pulled_at else "never")
        if any(image.storage_class == "ARCHIVE" for image in images):
            headers += ["STATUS", "CLASS"]
            for row, image in zip(rows, images, strict=True):
                row += [image.status or "-", image.storage_class or "-"]
        # a column of its own only where there is an image index: a plain repository's table stays as it was
        if any(image.platforms for image in images):
            headers.append("PLATFORMS")
            for row, image in zip(rows, images, strict=True):
                row.append(", ".join(image.platforms) or "-")
        self.table(f"{repository}: {len(images)} image(s)", headers, rows)

    def repositories(self, repos: list[RepositoryInfo]) -> None:
        if self.json:
            return self.emit_json(repos)
        if self.quiet:
            for repo in repos:
                self.line(repo.name)
            return
        rows = [
            [r.name, r.uri, r.tag_mutability or "-", "yes" if r.scan_on_push else "no", when(r.created_at)]
            for r in repos
        ]
        self.table(f"{len(repos)} repositories", ["NAME", "URI", "TAGS", "SCAN ON PUSH", "CREATED AT"], rows)

    def deleted_images(self, result: DeleteImagesResult) -> None:
        if self.json:
            return self.emit_json(result)
        for image in result.deleted:
            self.line(f"deleted {result.repository} {image.label()}")
        for failure in result.failures:
            click.echo(
                f"failed {result.repository} {failure.image.label()}: {failure.code}: {failure.reason}", file=self.err
            )

    def deleted_repository(self, result: DeleteRepositoryResult) -> None:
        if self.json:
            return self.emit_json(result)
        extra = f" and its {result.images_deleted} image(s)" if result.images_deleted else ""
        self.line(f"deleted repository {result.repository}{extra}")

    def configured_docker(self, result: ConfigureDockerResult) -> None:
        program = "docker-credential-ecrtool"
        if self.json:
            self.emit_json(result)
        else:
            for registry in result.registries:
                self.line(registry)
            if result.added or result.replaced:
                backup = f" (previous file kept as {result.backup})" if result.backup else ""
                self.note(f"{result.config_path} now sends these registries to {program}{backup}")
                for host, old in result.replaced.items():
                    self.note(f"{host} used docker-credential-{old} before")
            else:
                self.note(f"{result.config_path} already sends these registries to {program}: nothing changed")
        if result.helper is None:
            # even with --quiet or JSON: without the helper on PATH every docker pull fails to authenticate
            whose = "root's PATH under sudo" if result.for_root else "PATH"
            where = result.installed_helper
            if where:
                fix = f"put {where.rsplit('/', 1)[0]} on {whose}, or: sudo ln -s {where} /usr/local/bin/{program}"
            else:
                fix = "reinstall ecrtool, which installs it"
            click.echo(f"ecrtool: warning: {program} is not on {whose}, so docker cannot run it: {fix}", file=self.err)

    def doctor(self, report: DoctorReport) -> None:
        if self.json:
            checks = [{**to_jsonable(check), "ok": check.ok} for check in report.checks]
            return self.emit_json({"ok": report.ok, "checks": checks})
        marks = {"ok": "✓", "fail": "✗", "skip": "–"}
        try:
            "✓✗–".encode(getattr(self.out, "encoding", None) or "utf-8")
        except (UnicodeEncodeError, LookupError):
            marks = {"ok": "ok", "fail": "FAIL", "skip": "skip"}
        shown = [check for check in report.checks if check.status == "fail" or not self.quiet]
        failed = sum(1 for check in report.checks if check.status == "fail")
        title = "every check passed" if not failed else f"{failed} check(s) failed: see FIX"
        headers = ["", "CHECK", "RESULT"] + (["FIX"] if failed else [])
        rows = [[marks[c.status], c.name, c.detail] + ([c.fix or ""] if failed else []) for c in shown]
        self.table(f"ecrtool doctor: {title}", headers, rows)

    def ran(self, result: RunResult) -> None:
        """A detached container: its id. Attached, the container's own output was the output."""
        if result.exit_code is not None:
            return
        if self.json:
            return self.emit_json(result)
        self.line(result.container_id)

    def container_output(self, stream: str, data: bytes) -> None:
        """The attached container's output, byte for byte, to ecrtool's stdout or stderr as it comes."""
        if self._bars is not None:
            self._bars.progress.stop()  # a live progress display would redraw over the container's output
            self._bars = None
        target = self.out if stream == "stdout" else self.err
        target.flush()
        binary = getattr(target, "buffer", None)
        if binary is not None:
            binary.write(data)
            binary.flush()
        else:
            target.write(data.decode("utf-8", "replace"))
            target.flush()

    def settings_report(self, report: SettingsReport) -> None:
        if self.json:
            settings = {item.name: {"value": item.value, "source": item.source} for item in report.settings}
            profiles = [to_jsonable(route) for route in report.profiles]
            return self.emit_json({"config_file": report.config_file, "settings": settings, "profiles": profiles})
        state = "" if report.config_file_exists else " (not found)"
        self.note(f"config file: {report.config_file}{state}")
        width = max(len(item.name) for item in report.settings)
        values = [_setting_text(item.value) for item in report.settings]
        value_width = max(len(value) for value in values)
        for item, value in zip(report.settings, values, strict=True):
            self.line(f"{item.name:<{width}}  {value:<{value_width}}  {item.source}")
        if report.profiles:
            self.line()
            self.line("profiles per registry (an explicit --profile beats them all):")
            entry_width = max(len(route.entry) for route in report.profiles)
            profile_width = max(len(route.profile) for route in report.profiles)
            for route in report.profiles:
                named = f"{route.entry:<{entry_width}}  {route.profile:<{profile_width}}"
                self.line(f"{named}  {route.source}: {route.covers}")

    def user_data(self, result: UserData, *, launch_command: bool, to_file: str | None) -> None:
        """The script on stdout (or in TO_FILE); the run-instances line after it on stdout with a file, else stderr."""
        if to_file is None:
            self.out.write(result.script)
            self.out.flush()
        if launch_command:
            click.echo(result.launch_command, file=self.out if to_file else self.err)

    def table(self, title: str, headers: list[str], rows: list[list[str]]) -> None:
        if not self.out.isatty():
            lines = plain_table(title, headers, rows, PLAIN_WIDTH)
            if lines is not None:
                for line in lines:
                    click.echo(line, file=self.out)
                return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left", box=None, header_style="bold", pad_edge=False)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row)
        # cells are data, never rich markup or :emoji: codes
        Console(file=self.out, width=None if self.out.isatty() else PLAIN_WIDTH, markup=False, emoji=False).print(table)

    # -- progress ---------------------------------------------------------------------------------

    @contextmanager
    def progress(self) -> Iterator[Progress | None]:
        if self.quiet:
            yield None
        elif self.err.isatty() and not self.json:
            with _Bars(self.err) as bars:
                self._bars = bars
                try:
                    yield bars.update
                finally:
                    self._bars = None
        else:
            yield _PlainLines(self.err).update


class _PlainLines:
    """Progress without a terminal: one line each time a layer's status changes, no byte counts.

    A copy's destinations report from threads of their own, the same layers each: a layer is followed per
    destination, and once a second destination reports, each line names its own. One lock keeps every
    line whole and the bookkeeping consistent."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.last: dict[tuple[str, str | None], str] = {}
        self.references: set[str] = set()
        self.lock = threading.Lock()

    def update(self, event: ProgressEvent) -> None:
        with self.lock:
            key = (event.reference, event.layer)
            if self.last.get(key) == event.status:
                return
            self.last[key] = event.status
            self.references.add(event.reference)
            prefix = f"{event.layer}: " if event.layer else ""
            if len(self.references) > 1 and event.layer:
                prefix = f"{event.reference} {prefix}"
            click.echo(f"{prefix}{event.status}", file=self.err)


_DONE = ("pushed", "layer already exists", "mounted from", "pull complete", "already exists", "copied")


class _Bars:
    """One rich progress bar per layer, on stderr."""

    def __init__(self, err: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            console=Console(file=err),
            transient=False,
        )
        self.tasks: dict[tuple[str, str], Any] = {}
        self.lock = threading.Lock()  # a copy's destinations report from threads of their own

    def __enter__(self) -> _Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, event: ProgressEvent) -> None:
        with self.lock:
            self._update(event)

    def _update(self, event: ProgressEvent) -> None:
        if not event.layer or len(event.layer) < 12 or ":" in event.layer:
            self.progress.console.print(event.status)
            return
        key = (event.reference, event.layer)
        task = self.tasks.get(key)
        description = f"{event.layer[:12]} {event.status:<18}"
        if len({reference for reference, _ in self.tasks} | {event.reference}) > 1:
            description = f"{event.reference} {description}"  # several destinations: each bar names its own
        if task is None:
            task = self.tasks[key] = self.progress.add_task(description, total=event.total)
        done = event.status.lower().startswith(_DONE)
        total = event.total or None
        self.progress.update(
            task,
            description=description,
            completed=event.current if event.current is not None else None,
            total=total,
        )
        if done:
            current = self.progress.tasks[task].total or 1
            self.progress.update(task, total=current, completed=current)
