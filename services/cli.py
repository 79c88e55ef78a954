"""`xianjie`: the command line for chores — start the dev stack, migrate, manage
users, run one process, parse a policy document."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="县级巩固拓展脱贫攻坚成果 任务·预警·考核 系统的命令行工具", no_args_is_help=True)
db_app = typer.Typer(help="数据库 (database)", no_args_is_help=True)
users_app = typer.Typer(help="用户管理 (users)", no_args_is_help=True)
policy_app = typer.Typer(help="政策文件 (policy documents)", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(policy_app, name="policy")
dlq_app = typer.Typer(help="死信队列 (dead letters)", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


@app.command()
def dev(
    infra_only: bool = typer.Option(False, "--infra-only", help="只启动 PostgreSQL、Temporal、消息代理和初始化"),
) -> None:
    """Start PostgreSQL, Temporal, the broker and every service in the foreground (Ctrl-C stops all)."""
    from services.common.devstack import dev_command

    raise typer.Exit(dev_command(infra_only))


@app.command()
def serve(name: str = typer.Argument(..., help="tasks-api | alerts-api | assessment-api | portal | worker | relay | alerts-consumer | assessment-consumer")) -> None:
    """Run one long-running process (what `make dev` starts for each line of its Procfile)."""
    from services.serve import PROCESSES, serve as run

    if name not in PROCESSES:
        typer.echo(f"未知进程 {name};可选: {', '.join(PROCESSES)}", err=True)
        raise typer.Exit(2)
    run(name)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply the migrations not yet applied (applying twice changes nothing)."""
    from services.common.db import migrate

    applied = migrate()
    typer.echo("已是最新 (nothing to apply)" if not applied else "已应用 (applied): " + ", ".join(applied))


@users_app.command("create")
def users_create(
    username: str = typer.Option(..., help="用户名"),
    unit: str = typer.Option(..., help="单位 id 或全称/简称"),
    role: list[str] = typer.Option(..., "--role", help="角色,可重复: office_admin unit_staff unit_head leader data_entry ops"),
    full_name: Optional[str] = typer.Option(None, help="姓名 (默认同用户名)"),
    password: Optional[str] = typer.Option(None, help="密码 (不给则交互输入)"),
) -> None:
    """Create a user (for administrators); written to the audit log."""
    import psycopg
    from psycopg.rows import dict_row

    from services.common.auth import ROLES
    from services.common.config import get_settings
    from services.tasks.identity import IdentityError, create_user

    bad = [r for r in role if r not in ROLES]
    if bad:
        typer.echo(f"未知角色 {', '.join(bad)};可选: {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)
    if password is None:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        typer.echo("密码至少 8 位 (password too short)", err=True)
        raise typer.Exit(2)
    with psycopg.connect(get_settings().dsn, row_factory=dict_row) as conn:
        found = conn.execute(
            "SELECT id FROM common.units WHERE id::text = %s OR name = %s OR %s = ANY(aliases) ORDER BY id",
            (unit, unit, unit),
        ).fetchall()
        if len(found) != 1:
            typer.echo(f"单位 {unit!r} {'不存在' if not found else '不唯一,请用单位 id'}", err=True)
            raise typer.Exit(2)
        try:
            user = create_user(
                conn, actor=None, username=username, full_name=full_name or username,
                unit_id=found[0]["id"], roles=role, password=password, request_id="cli",
            )
        except IdentityError as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1) from None
    typer.echo(f"已创建用户 {user['username']} (id {user['id']}),单位 {user['unit_name']}")


@policy_app.command("parse")
def policy_parse(
    file: Path = typer.Argument(..., help="政策文件: .txt (UTF-8/GBK) .docx .html, 任务分工表 .xlsx"),
    format: str = typer.Option("table", "--format", help="json | table"),
    region: Optional[str] = typer.Option(None, help="区划代码: 按该辖区的单位名录解析单位"),
) -> None:
    """Parse a policy document into measures with units, targets and deadlines."""
    import orjson

    from services.tasks.policy_parser import ParseError, document_to_dict, format_table, parse_path

    if format not in ("json", "table"):
        typer.echo("--format 只能是 json 或 table", err=True)
        raise typer.Exit(2)
    known = None
    if region:
        import psycopg
        from psycopg.rows import dict_row

        from services.common.config import get_settings
        from services.common.units import known_names

        with psycopg.connect(get_settings().dsn, row_factory=dict_row) as conn:
            known = known_names(conn, region)
    try:
        doc = parse_path(file, known)
    except (ParseError, OSError) as e:
        typer.echo(f"无法解析 {file}: {e}", err=True)
        raise typer.Exit(1) from None
    data = document_to_dict(doc)
    if region:
        import psycopg
        from psycopg.rows import dict_row

        from services.common.config import get_settings
        from services.tasks.policies import resolution

        with psycopg.connect(get_settings().dsn, row_factory=dict_row) as conn:
            resolved = resolution(conn, region, data["measures"])
        for m in data["measures"]:
            m["resolved"] = {
                "lead_units": [resolved[n] for n in m["lead_units"]],
                "responsible_units": [resolved[n] for n in m["responsible_units"]],
            }
    if format == "json":
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        typer.echo(format_table(doc))


@policy_app.command("simulate")
def policy_simulate(
    file: Path = typer.Argument(..., help="政策文件: .txt .docx .html"),
    date_from: str = typer.Option(..., "--from", help="模拟开始(发布)日期 YYYY-MM-DD"),
    date_to: str = typer.Option(..., "--to", help="模拟结束日期 YYYY-MM-DD"),
    region: str = typer.Option("default", help="按该区划的报送日历模拟 (默认通用日历)"),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="同时写出 Excel 文件"),
) -> None:
    """Run the document's task workflows for a period and list every due date, reminder and escalation."""
    import asyncio
    from datetime import date

    from rich.console import Console
    from rich.table import Table

    from services.tasks.calendars import calendar_for
    from services.common.excel import Column, to_xlsx
    from services.tasks.policy_parser import ParseError, document_to_dict, parse_path
    from services.tasks.simulate import simulate

    try:
        start, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    except ValueError:
        typer.echo("日期格式应为 YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    if end < start:
        typer.echo("--to 不能早于 --from", err=True)
        raise typer.Exit(2)
    try:
        document = document_to_dict(parse_path(file))
    except (ParseError, OSError) as e:
        typer.echo(f"无法解析 {file}: {e}", err=True)
        raise typer.Exit(1) from None
    rows = asyncio.run(simulate(document, calendar_for(region.ljust(12, "0")), start, end))
    table = Table(title=f"{document.get('title') or file.name} 报送日历模拟 {start} ~ {end}")
    for header in ("措施", "单位", "步骤", "截止", "事件", "时间"):
        table.add_column(header)
    for r in rows:
        table.add_row(r.ref, r.unit, r.step, r.due_date, r.event, r.at)
    Console().print(table)
    typer.echo(f"共 {len(rows)} 条: {len(document['measures'])} 项措施")
    if xlsx:
        columns = [Column("ref", "措施编号"), Column("title", "措施"), Column("unit", "单位"), Column("step", "步骤"),
                   Column("due_date", "截止日期"), Column("event", "事件"), Column("at", "时间")]
        xlsx.write_bytes(to_xlsx(f"报送日历模拟 {start} ~ {end}", columns, [r.__dict__ for r in rows]))
        typer.echo(f"已写出 {xlsx}")


@dlq_app.command("list")
def dlq_list(
    topic: str = typer.Option("household.events", help="原主题: household.events | tasks.events | alerts.events"),
    from_offset: int = typer.Option(0, "--from-offset", help="从死信队列的该位置开始"),
    limit: int = typer.Option(100, help="最多列出条数"),
) -> None:
    """List dead letters with their reason."""
    from services.common import dlq

    try:
        letters = list(dlq.read(topic, from_offset, limit))
    except ValueError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    for d in letters:
        typer.echo(f"{d.dlq_offset}\t{d.consumer}\t{d.reason}\t{d.value[:120]}")
    typer.echo(f"共 {len(letters)} 条死信")


@dlq_app.command("replay")
def dlq_replay(
    topic: str = typer.Option("household.events", help="原主题"),
    from_offset: int = typer.Option(..., "--from-offset", help="从死信队列的该位置开始重放"),
    limit: int = typer.Option(1000, help="最多重放条数"),
    reason: Optional[str] = typer.Option(None, help="只重放原因包含该文字的"),
) -> None:
    """Publish dead letters again to their topic after a fix; consumers skip what they already applied."""
    from services.common import dlq

    letters = [d for d in dlq.read(topic, from_offset, limit) if reason is None or reason in d.reason]
    n = dlq.replay(letters)
    last = letters[-1].dlq_offset if letters else from_offset - 1
    typer.echo(f"已重放 {n} 条;下次可从 --from-offset {last + 1} 开始")


households_app = typer.Typer(help="农户数据 (households)", no_args_is_help=True)
app.add_typer(households_app, name="households")


@households_app.command("import")
def households_import(
    file: Path = typer.Argument(..., help="按模板填写的 .xlsx/.csv,或全国防返贫监测信息系统导出的 监测对象信息 / 行政村信息 "
                                          "(.xlsx/.xls/.csv)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只检查,不写入 (validate everything, write nothing)"),
    create_regions: bool = typer.Option(False, "--create-regions",
                                        help="国家系统导出中不认识的乡、村在文件所写的县下新建 (create unknown townships/villages)"),
    period: Optional[str] = typer.Option(None, "--period", help="国家系统导出的收支数据所属年度 (默认取标题行中的年份)"),
    format: str = typer.Option("table", "--format", help="table | json (最后一行输出一个 JSON 对象)"),
    user: Optional[str] = typer.Option(None, "--user", help="以该用户的身份和辖区导入 (默认不限辖区)"),
    errors_xlsx: Optional[Path] = typer.Option(None, "--errors-xlsx", help="把错误说明文件写到这里"),
    chunk_size: int = typer.Option(500, "--chunk-size", min=1, help="每批提交的行数"),
) -> None:
    """Import households and their period records from a file — our template or the national
    monitoring system's 监测对象信息 / 行政村信息 exports: the same importer as the API,
    in chunks, each one transaction; importing the same file twice changes nothing.
    Exits 0 when every row was imported, 1 when some rows had errors, 2 when the file cannot be read."""
    import contextlib

    import orjson
    import psycopg
    from psycopg.rows import dict_row
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from services.alerts import importer
    from services.common.auth import load_principal
    from services.common.config import get_settings

    if format not in ("table", "json"):
        typer.echo("--format 只能是 table 或 json", err=True)
        raise typer.Exit(2)
    if period is not None and not (len(period) == 4 and period.isdigit() and period[:2] in ("19", "20")):
        typer.echo("--period 应为年份,如 2023", err=True)
        raise typer.Exit(2)
    try:
        content = file.read_bytes()
    except OSError as e:
        typer.echo(f"无法读取 {file}: {e.strerror}", err=True)
        raise typer.Exit(2) from None
    if len(content) > importer.MAX_UPLOAD_BYTES:
        typer.echo("文件超过 20 MB 上限,请分成几个文件导入", err=True)
        raise typer.Exit(2)
    try:
        table = importer.read_file(content, file.name)
    except importer.ImportFileError as e:
        typer.echo(f"无法导入 {file}: {e}", err=True)
        raise typer.Exit(2) from None

    err = Console(stderr=True)
    with psycopg.connect(get_settings().dsn, autocommit=True, row_factory=dict_row) as conn:
        actor = None
        if user:
            row = conn.execute("SELECT id FROM common.users WHERE username = %s", (user,)).fetchone()
            actor = load_principal(conn, row["id"]) if row else None
            if actor is None:
                typer.echo(f"用户 {user} 不存在或已停用", err=True)
                raise typer.Exit(2)
        job_id = None if dry_run else importer.create_job(conn, file.name, actor.user_id if actor else None)
        connect = lambda: contextlib.nullcontext(conn)  # noqa: E731 (one connection, a transaction per chunk)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=format == "json") as progress:
            reading = None if isinstance(table, importer.Table) else progress.add_task("读取", total=None)
            task = progress.add_task("检查 (dry run)" if dry_run else "导入",
                                     total=len(table.rows) if isinstance(table, importer.Table) else None)

            def on_read(rows: int) -> None:
                progress.update(reading, completed=rows)

            def on_progress(outcome) -> None:
                if reading is not None:
                    progress.update(reading, completed=outcome.rows, total=outcome.rows)
                progress.update(task, completed=outcome.processed_rows, total=outcome.rows)

            try:
                outcome, error_file = importer.run_import(
                    connect, content, file.name, actor=actor, job_id=job_id, dry_run=dry_run,
                    chunk_size=chunk_size, request_id=f"cli-import-{job_id}" if job_id else None,
                    on_progress=on_progress, table=table, period=period, create_regions=create_regions,
                    error_file=errors_xlsx is not None, on_read=on_read)
            except Exception as e:  # noqa: BLE001
                progress.stop()
                typer.echo(f"导入中断: {type(e).__name__}: {e}" + (f" (任务 {job_id})" if job_id else ""), err=True)
                raise typer.Exit(1) from None
    if errors_xlsx and error_file:
        errors_xlsx.write_bytes(error_file)
    summary = outcome.summary()
    if format == "json":
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    else:
        console = Console()
        if outcome.errors:
            t = Table(title=f"有错误的行 ({outcome.rows_with_errors} 行)")
            for header in ("行", "列", "原因"):
                t.add_column(header)
            for e in outcome.errors:
                t.add_row(str(e.row), e.column, e.reason)
            console.print(t)
        if outcome.ignored_columns:
            console.print(f"未读取的列 ({len(outcome.ignored_columns)}): {'、'.join(outcome.ignored_columns)}")
        verb = "可导入 (dry run, nothing written)" if dry_run else "已导入"
        if "villages" in outcome.extra:
            console.print(f"行政村信息: {outcome.extra['villages']} 个村的人口数可用,其中 "
                          f"{outcome.extra['villages_changed']} 个村有变化")
        console.print(f"共 {outcome.rows} 行: {verb} {outcome.imported_rows} 行 ({len(outcome.households)} 户、"
                      + (f"{outcome.persons} 人、" if outcome.persons else "")
                      + f"{outcome.records} 期数据;其中新增或改动 {outcome.households_changed} 户、"
                      f"{outcome.records_changed} 期),有错误 {outcome.rows_with_errors} 行"
                      + (f";任务 {job_id}" if job_id else ""))
        if errors_xlsx and error_file:
            console.print(f"错误说明已写出: {errors_xlsx}")
    raise typer.Exit(1 if outcome.errors else 0)
